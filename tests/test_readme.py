"""The README's Python blocks, run as a reader would paste them: in order, in one fresh interpreter, from an empty
folder (IN_TEST=1 shrinks the example's training, as in the notebook tests)."""
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.M | re.S)


def test_readme_python_blocks_run(tmp_path):
    blocks = python_blocks((ROOT/'README.md').read_text())
    assert blocks, 'the README has no Python example'
    p = subprocess.run([sys.executable, '-c', '\n\n'.join(blocks)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'IN_TEST': '1', 'OMP_NUM_THREADS': '1'})
    assert p.returncode == 0, f'a README block failed:\n{p.stderr[-3000:]}'
    assert os.listdir(tmp_path) == [], f'the README example wrote files where it ran: {os.listdir(tmp_path)}'

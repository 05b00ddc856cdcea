"""What a reader of the saved notebooks meets without running them (GitHub, Colab's saved view, the docs site, offline HTML).

- every saved plotly figure carries a PNG beside its JSON, and no CDN-loading HTML form (`tools/figure_png.py --embed`);
- no saved output names a folder of the machine that ran it;
- every notebook opens with an "Open in Colab" badge and a hidden install cell that runs only on Colab.
"""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts
                   and not any(s.startswith('_') for s in p.relative_to(ROOT/'nbs').parts))
PLOTLY = 'application/vnd.plotly.v1+json'
MACHINE_PATH = re.compile(r'(/tmp/tmp|/home/|/Users/|/root/|/work/|[A-Z]:\\\\Users)')

def outputs(nb):
    for c in nb['cells']:
        for o in c.get('outputs', []): yield c, o

def text_of(o):
    parts = [o.get('text', '')] + [v for k, v in o.get('data', {}).items() if k.startswith('text/')]
    return ''.join(''.join(p) if isinstance(p, list) else p for p in parts)

@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_outputs(path):
    nb = json.loads(path.read_text())
    for c, o in outputs(nb):
        data = o.get('data', {})
        if PLOTLY in data:
            assert 'image/png' in data, f"{path.name} cell {c['id']}: a plotly figure without its PNG (run tools/figure_png.py --embed)"
            assert 'text/html' not in data, f"{path.name} cell {c['id']}: a plotly figure with a CDN-loading HTML form"
        assert 'cdn.plot.ly' not in text_of(o), f"{path.name} cell {c['id']}: an output loads plotly.js from a CDN"
        m = MACHINE_PATH.search(text_of(o))
        assert m is None, f"{path.name} cell {c['id']}: a saved output names a machine path: ...{text_of(o)[max(0, m.start() - 40):m.end() + 40]}..."

@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_colab_ready(path):
    nb = json.loads(path.read_text())
    src = [''.join(c['source']) for c in nb['cells']]
    badge = f'https://colab.research.google.com/github/smt-nb/smt_nb/blob/main/{path.relative_to(ROOT).as_posix()}'
    assert any(badge in s for s in src[:4]), f'{path.name}: no "Open in Colab" badge pointing at {badge} near the top'
    install = [s for s in src if "'google.colab' in sys.modules" in s and 'pip' in s]
    assert install and install[0].lstrip().startswith('#| hide'), f'{path.name}: no hidden Colab-only install cell'

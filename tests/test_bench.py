"""`smt-nb bench --quick` as a user runs it (the installed command, in a subprocess): the table, the JSON, clean errors."""
import json, shutil, subprocess, sys
from pathlib import Path

import torch

EXE = shutil.which('smt-nb') or str(Path(sys.executable).parent/'smt-nb')

def run(*args, cwd):
    return subprocess.run([EXE, 'bench', *args], capture_output=True, text=True, timeout=300, cwd=cwd)

def test_bench_quick(tmp_path):
    p = run('--quick', '--threads', '1', '--out', 'b.json', cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    for name in ('BPTT', 'TBPTT k=16', 'GRU (cuDNN)', 'SMT one-position', 'SMT: encoder', 'SMT: decoder', 'SMT / BPTT'):
        assert name in p.stdout, name
    assert 'T=16' in p.stderr                                   # progress lines go to stderr
    res = json.loads((tmp_path/'b.json').read_text())
    assert res['settings']['threads'] == 1 and res['matmul_gflops'] > 0
    assert {r['T'] for r in res['rows']} == {16, 32} and all(r['ms'] > 0 for r in res['rows'])

def test_bench_errors(tmp_path):
    p = run('--quick', '--methods', 'SMT,RTRL', cwd=tmp_path)
    assert p.returncode == 2 and 'unknown method' in p.stderr and 'Traceback' not in p.stderr
    p = run('--quick', '--out', '.', cwd=tmp_path)
    assert p.returncode == 2 and 'is a directory' in p.stderr
    if not torch.cuda.is_available():
        p = run('--quick', '--device', 'cuda', cwd=tmp_path)
        assert p.returncode == 2 and 'CUDA is not available' in p.stderr and 'Traceback' not in p.stderr

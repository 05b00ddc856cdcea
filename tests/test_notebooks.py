"""Run every notebook in `nbs/` through nbdev's own notebook runner, one pytest item per notebook.

Cells flagged with `tst_flags` from `pyproject.toml` (`notest slow gpu`) are skipped, as `nbdev-test` does.
Set `SMT_NB_TEST_FLAGS="slow"` (space separated) to run flagged cells too.
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb')
                   if '.ipynb_checkpoints' not in p.parts and not any(s.startswith('_') for s in p.relative_to(NBS).parts))

def _skip_flags():
    flags = get_config(ROOT).tst_flags.split()
    run_too = os.environ.get('SMT_NB_TEST_FLAGS', '').split()
    return [f for f in flags if f not in run_too]

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(NBS)) for p in NOTEBOOKS])
def test_notebook(nb):
    ok, secs = run_notebook(nb, skip_flags=_skip_flags(), basepath=ROOT)
    assert ok, f'{nb.relative_to(ROOT)} failed (traceback above)'

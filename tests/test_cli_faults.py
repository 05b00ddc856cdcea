"""`smt-nb train` under faults and bad input (issue 9): one row per case, each with its exit status, a piece of its
error message, and what must (not) have happened on disk. Tiny models, a few steps: the file runs in well under a
minute on one core. Most rows call `smt_nb.cli.main` in this process (no interpreter start-up per row); a few run
the installed `smt-nb` command in a subprocess, as a user would.
"""
import contextlib, io, json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from smt_nb import train as T
from smt_nb import checkpoint as CK
from smt_nb.cli import main as cli_main
from smt_nb.data import get_task
from smt_nb.infer import evaluate
from smt_nb.rnn import build_models

TINY = ['--method', 'smt', '--task', 'retrieval', '--steps', '4', '--warmup', '1', '--batch-size', '4', '--seq-len', '12',
        '--d-model', '16', '--k', '1', '--n-heads', '2', '--enc-layers', '1', '--dec-layers', '1', '--model-kw',
        'hidden=16', '--eval-every', '2', '--eval-batches', '1', '--ckpt-every', '1', '--log-every', '1', '--quiet',
        '--device', 'cpu']


def tiny(**flags):
    "TINY with some flags replaced or added: tiny(steps=1, w_unif=0) -> [..., '--steps', '1', ..., '--w-unif', '0']."
    argv = list(TINY)
    for k, v in flags.items():
        flag = '--' + k.replace('_', '-')
        if flag in argv: argv[argv.index(flag) + 1] = str(v)
        else: argv += [flag, str(v)]
    return argv


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def run(*argv):
    "`smt-nb train <argv>` in this process: (exit status, stderr)."
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        rc = cli_main(['train', *map(str, argv)])
    return rc, err.getvalue()


def snapshot(d):
    "Every file under `d` with its bytes (to check that nothing was touched)."
    d = Path(d)
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()} if d.exists() else {}


def finite(ck):
    return all(torch.isfinite(v).all() for v in load_file(Path(ck)/'model.safetensors').values())


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    "A finished 4-step run (last/ at step 4, best/, 7 records), copied by each row that damages one."
    out = tmp_path_factory.mktemp('base')/'run'
    assert run(*TINY, '--out', out) == (0, '')
    assert CK.load_checkpoint(out/'last')['state']['step'] == 4 and (out/'best'/'state.json').exists()
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    out = tmp_path/'run'
    shutil.copytree(finished_run, out)
    return out


def edit_step(out):
    f = out/'last'/'state.json'
    st = json.loads(f.read_text()); st['step'] = 2; f.write_text(json.dumps(st, indent=1))

# --- rows: (id, damage to the finished run or None, extra flags, exit status, piece of stderr)
RESUME_ROWS = [
    ('state.json step edited 4->2', edit_step, 'does not match its checksum: it was edited or is corrupt'),
    ('last/state.json deleted', lambda out: (out/'last'/'state.json').unlink(), 'last/state.json is missing'),
    ('last/ deleted', lambda out: shutil.rmtree(out/'last'), 'but no checkpoint to continue from'),
    ('last/state.json holds [1,2]', lambda out: (out/'last'/'state.json').write_text('[1, 2]'),
     'is not a smt_nb-checkpoint-2 state file'),
]


@pytest.mark.parametrize('damage,needle', [r[1:] for r in RESUME_ROWS], ids=[r[0] for r in RESUME_ROWS])
def test_resume_refuses_and_touches_nothing(run_copy, damage, needle):
    damage(run_copy)
    before = snapshot(run_copy)
    rc, err = run(*TINY, '--steps', '6', '--resume', '--out', run_copy)
    assert rc == 2 and needle in err, err
    assert len(err.strip().splitlines()) <= 2, err           # a message, not a traceback
    assert snapshot(run_copy) == before                      # metrics.jsonl not truncated, best/ not overwritten
    if 'no checkpoint' in err: assert 'another --out or delete' in err and 'best/ (step' in err


def test_resume_without_damage_still_works(run_copy):
    assert run(*TINY, '--steps', '6', '--resume', '--out', run_copy) == (0, '')
    assert CK.load_checkpoint(run_copy/'last')['state']['step'] == 6


BAD_ARGS = [
    ('--tf 0', dict(tf=0), 'Tf must be an int >= 1'),
    ('--tc 0', dict(tc=0), 'Tc must be None or an int >= 1'),
    ('--truncate 0 (tbptt)', dict(method='tbptt', truncate=0), 'truncate must be None (full BPTT) or a positive int'),
    ('--model-kw hidden=0', dict(model_kw='hidden=0'), 'hidden must be a positive int, got 0'),
    ('--d-model 0', dict(d_model=0), 'd_model must be a positive int, got 0'),
    ('--warmup 20 --steps 10', dict(steps=10, warmup=20), 'warmup (20) must be shorter than the run (steps=10)'),
    ('--lr 1e39', dict(lr=1e39), 'is too large'),
]


@pytest.mark.parametrize('flags,needle', [r[1:] for r in BAD_ARGS], ids=[r[0] for r in BAD_ARGS])
def test_bad_arguments_fail_before_anything_is_written(tmp_path, flags, needle):
    rc, err = run(*tiny(**flags), '--out', tmp_path/'run')
    assert rc == 2 and needle in err, err
    assert not (tmp_path/'run').exists()


ZERO_FLAGS = [('--w-unif 0', dict(w_unif=0), dict(w_unif=0.0)), ('--w-dec 0', dict(w_dec=0), dict(w_dec=0.0)),
              ('--w-unif 0 --w-dec 0', dict(w_unif=0, w_dec=0), dict(w_unif=0.0, w_dec=0.0))]


@pytest.mark.parametrize('flags,loss_kw', [r[1:] for r in ZERO_FLAGS], ids=[r[0] for r in ZERO_FLAGS])
def test_zero_is_a_value(tmp_path, flags, loss_kw):
    assert run(*tiny(steps=1, warmup=0, **flags), '--out', tmp_path/'run') == (0, '')
    assert json.loads((tmp_path/'run'/'config.json').read_text())['loss_kw'] == loss_kw


def test_empty_out_writes_nothing_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, err = run(*TINY, '--out', '')
    assert rc == 2 and "--out '' is an empty path" in err, err
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match='empty path'): T.train(T.TrainConfig(steps=2, warmup=0), out='  ')


def test_out_under_a_file(tmp_path):
    (tmp_path/'f').write_text('x')
    rc, err = run(*TINY, '--out', tmp_path/'f'/'run')
    assert rc == 2 and f'{tmp_path/"f"} is a file, not a directory' in err, err


def test_read_only_run_directory(run_copy, monkeypatch):
    before = snapshot(run_copy)
    if os.geteuid() == 0:       # root writes anywhere: make the checks see a read-only directory
        real = os.access
        monkeypatch.setattr(CK.os, 'access', lambda p, mode: False if str(p).startswith(str(run_copy)) and mode & os.W_OK
                            else real(p, mode))
    else:
        for p in [run_copy, *run_copy.rglob('*')]: p.chmod(p.stat().st_mode & ~0o222)
    try:
        rc, err = run(*TINY, '--steps', '6', '--resume', '--out', run_copy)
    finally:
        for p in [run_copy, *run_copy.rglob('*')]: p.chmod(p.stat().st_mode | 0o200)
    assert rc == 2 and 'permission denied' in err and 'Traceback' not in err, err
    assert snapshot(run_copy) == before


def test_late_os_error_is_a_message(tmp_path, monkeypatch):
    "Should a write fail anyway (a full disk, a directory made read-only mid-run): one line, no traceback."
    def refuse(path, *a, **k): raise PermissionError(13, 'Permission denied', str(path))
    monkeypatch.setattr(CK, 'save_checkpoint', refuse)      # what CheckpointCB calls
    rc, err = run(*TINY, '--out', tmp_path/'run')
    assert rc == 2 and 'Permission denied' in err and 'Traceback' not in err, err


def test_divergence_never_saves_non_finite_weights(tmp_path):
    out = tmp_path/'run'
    argv = tiny(lr=1e30, log_every=5, eval_every=0, steps=8)
    rc, err = run(*argv, '--out', out)
    assert rc == 2 and 'non-finite' in err and f'Last good checkpoint: {out/"last"} (step ' in err, err
    step = int(err.split(f'{out/"last"} (step ')[1].split(')')[0])
    assert CK.load_checkpoint(out/'last')['state']['step'] == step and finite(out/'last')
    assert all(finite(out/d) for d in ('last', 'best') if (out/d).exists())
    # resumed: diverges again at the same step, and last/ is left as it was
    before = snapshot(out/'last')
    rc2, err2 = run(*argv, '--resume', '--out', out)
    assert rc2 == 2 and f'(step {step})' in err2 and snapshot(out/'last') == before, err2


@pytest.mark.parametrize('name', [None, 123])
def test_api_get_task_not_a_name(name):
    with pytest.raises(TypeError, match='must be a string.*retrieval'): get_task(name)


@pytest.fixture(scope='module')
def models():
    return build_models(get_task('retrieval').vocab_size, d_model=16, K=1, n_heads=2, enc_layers=1, dec_layers=1, hidden=16)


def test_api_evaluate_a_task_name(models):
    with pytest.raises(TypeError, match=r"get_task\('retrieval'\)"): evaluate(models, 'retrieval')


def test_api_encode_all_empty(models):
    assert models['encoder'].encode_all(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0, 1, 16)


def test_api_load_trained_bad_state(run_copy):
    (run_copy/'last'/'state.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match='is not a smt_nb-checkpoint-2 state file'): T.load_trained(run_copy)


def smt_nb_exe():
    exe = shutil.which('smt-nb') or str(Path(sys.executable).parent/'smt-nb')
    if not Path(exe).exists(): pytest.skip('smt-nb is not installed (pip install -e .)')
    return exe


@pytest.mark.parametrize('out,needle', [('', "--out '' is an empty path"), ('f/run', 'is a file, not a directory')],
                         ids=["--out ''", '--out under a file'])
def test_installed_command(tmp_path, out, needle):
    "The real command in a fresh process: exit status 2, one line on stderr, nothing written where it runs."
    (tmp_path/'f').write_text('x')
    p = subprocess.run([smt_nb_exe(), 'train', *TINY, '--out', out], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert p.returncode == 2 and needle in p.stderr and p.stderr.count('\n') == 1, p.stderr
    assert sorted(os.listdir(tmp_path)) == ['f'] and (tmp_path/'f').read_text() == 'x'


# --- `smt-nb compare`: every bad argument is refused in the first second, before any training (once, the report path
# was only checked after ~8 minutes of training)
COMPARE_ROWS = [
    ('--out report.txt', ['--out', 'report.txt'], 'give a path ending in .html'),
    ('--out under a file', ['--out', 'f/report.html'], 'is a file, not a directory'),
    ("--out ''", ['--out', ''], 'out is empty'),
    ('--eval-every 0', ['--eval-every', '0'], 'eval_every must be an int >= 1'),
    ('--budget 0', ['--budget', '0'], 'budget (seconds per method) must be > 0'),
    ('--seeds 0,x', ['--seeds', '0,x'], '--seeds must be comma-separated integers'),
    ('--seq-len 32,0', ['--seq-len', '32,0'], 'seq_len must be a positive int'),
    ('--seq-len 3', ['--seq-len', '3'], 'too short'),
    ('--baselines rnn', ['--baselines', 'rnn'], "unknown baseline(s) ['rnn']"),
    ('--device tpu', ['--device', 'tpu'], "device must be 'auto', 'cpu'"),
    ('--task retreival', ['--task', 'retreival'], 'unknown task'),
] + ([('--device cuda without CUDA', ['--device', 'cuda'], 'CUDA is not available')] if not torch.cuda.is_available() else [])


@pytest.mark.parametrize('argv,needle', [r[1:] for r in COMPARE_ROWS], ids=[r[0] for r in COMPARE_ROWS])
def test_compare_refuses_bad_arguments_at_once(tmp_path, monkeypatch, argv, needle):
    import time
    import smt_nb.compare as C
    monkeypatch.chdir(tmp_path)
    (tmp_path/'f').write_text('x')
    monkeypatch.setattr(C, 'fit', lambda *a, **k: pytest.fail('training started before the arguments were checked'))
    t0 = time.time()
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        rc = cli_main(['compare', '--quiet', *argv])
    assert rc == 2 and needle in err.getvalue() and 'Traceback' not in err.getvalue(), err.getvalue()
    assert time.time() - t0 < 5 and sorted(os.listdir(tmp_path)) == ['f']


def test_train_cli_trains_at_the_configured_lr(tmp_path):
    "After its warm-up (default: 1% of --steps, at most 100) `smt-nb train` logs the learning rate it was given."
    out = tmp_path/'run'
    argv = tiny(steps=30, lr=0.002, eval_every=0, ckpt_every=0)
    i = argv.index('--warmup'); del argv[i:i + 2]          # the default warm-up is what is under test
    assert run(*argv, '--out', out) == (0, '')
    lrs = [r['lr'] for r in CK.read_metrics(out) if 'lr' in r]
    assert len(lrs) == 30 and lrs[0] <= 0.002 and all(x == 0.002 for x in lrs[1:]), lrs

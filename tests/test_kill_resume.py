"""`smt-nb train` SIGKILLed at random moments and resumed with `--resume` must end bit-identical to a run never killed.

One reference run of the installed `smt-nb` command, uninterrupted; then the same command again as a real subprocess,
SIGKILLed (at least `kills` times, across one or several run directories) at moments drawn by a seeded
`random.Random`, and restarted (with `--resume` whenever the directory holds a run) until it finishes. The moments
(a shuffled schedule of these, each after the run has checkpointed 0-2 more steps in this process):

- `tmp`:     right when a new `.last.tmp/` appears (a checkpoint being written, before its two renames),
- `old`:     right when a new `.last.old/` appears (between the two renames, or while the old copy is removed),
- `rename`:  exactly between the two renames of a save (`last -> .last.old` done, `.last.tmp -> last` not): strace
             delivers SIGKILL on entering the second rename (needs a working `strace`; else this becomes `old`),
- `best`:    right when a new `.best.tmp/` or `.best.old/` appears (the best/ checkpoint of an evaluation),
- `log`:     right after a write to `metrics.jsonl` (a record logged, its checkpoint not written yet),
- `delay`:   a random delay (0-150 ms) once the training loop runs,
- `startup`: a random delay after the start (interpreter start-up, checkpoint verification and loading).

A kill counts only if it landed (the process died by SIGKILL, not of its own accord first). Whether it landed during
a checkpoint write is read from the directory after the process died: a `.last.tmp/`, `.last.old/`, `.best.tmp/` or
`.best.old/` left behind that this process created.

At the end of every killed run: `last/` is at the final step and verifies; its weights (`model.safetensors`) and
optimiser state (`optimizer.pt`) are `torch.equal` to the reference's, tensor by tensor; `best/` holds the same
weights, step and score; `metrics.jsonl` holds the same records in the same order (every field but the training seconds, `time`), so
no step was lost or logged twice. Every run and `--resume` must exit 0 or die by SIGKILL. The one refusal allowed is
the documented one (`prepare_run_dir`): a run killed before its first checkpoint, holding step-0 records or `best/`
but nothing to continue from; `--resume` must then refuse (exit 2, "no checkpoint to continue from") without touching
anything, and the test deletes the directory and starts over, as the message says. The one leftover allowed is the
documented one ("cleared by the next save"): `.last.old/` of a kill during the save of the final step.

The default variant (>= 10 kills) takes ~30 s on one core (about 1.3 s of interpreter start-up per process); the
heavier one (>= 40 kills, a 60-step run, ~2 min) runs when SMT_NB_TEST_FLAGS contains `slow`.
"""
import contextlib, json, os, random, resource, shutil, signal, subprocess, sys, tempfile, time
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from smt_nb import train as T, checkpoint as CK

SLOW = 'slow' in os.environ.get('SMT_NB_TEST_FLAGS', '').split()


def tiny(steps):
    return ['train', '--method', 'smt', '--task', 'retrieval', '--steps', str(steps), '--warmup', '1', '--batch-size', '4',
            '--seq-len', '12', '--d-model', '16', '--k', '1', '--n-heads', '2', '--enc-layers', '1', '--dec-layers', '1',
            '--model-kw', 'hidden=16', '--eval-every', '4', '--eval-batches', '1', '--ckpt-every', '1', '--log-every', '1',
            '--quiet', '--device', 'cpu']


def smt_nb_exe():
    exe = Path(sys.executable).parent/'smt-nb'
    if exe.exists(): return str(exe)
    return shutil.which('smt-nb')


def child_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    for k in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK'): env.pop(k, None)    # never a torchrun child by accident
    return env


def ident(p):
    "Identity of a path that is created, renamed and removed again and again: None if absent."
    try: st = os.stat(p)
    except FileNotFoundError: return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def ckpt_step(d):
    "The step of the checkpoint a resume would continue from (last/, else .last.old/), or None."
    for n in ('last', '.last.old'):
        try: return json.loads((d/n/'state.json').read_text())['step']
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, KeyError): pass
    return None


class LastStep:
    "The step of `d/last/` while a run writes it; re-read only when `last/state.json` changes (cheap to poll)."
    def __init__(self, d, default): self.f, self.id, self.step = d/'last'/'state.json', None, default
    def __call__(self):
        i = ident(self.f)
        if i is not None and i != self.id:
            try: self.step, self.id = json.loads(self.f.read_text())['step'], i
            except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, KeyError): pass
        return self.step


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}


WRITE_DIRS = ('.last.tmp', '.last.old', '.best.tmp', '.best.old')
# one pass of the schedule (shuffled); `rename` needs strace (else it becomes `old`)
SCHEDULE = ['tmp', 'tmp', 'old', 'old', 'rename', 'best', 'log', 'delay', 'delay', 'startup']


def strace_exe():
    "strace, if it can trace and inject here (containers may forbid ptrace)."
    exe = shutil.which('strace')
    if exe is None: return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ok = subprocess.run([exe, '-f', '-qq', '-o', os.devnull, '-e', 'trace=rename,renameat,renameat2', '-e',
                                 'inject=rename,renameat,renameat2:signal=KILL:when=1', sys.executable, '-c',
                                 'import os; open("x", "w").close(); os.replace("x", "y")'],
                                cwd=tmp, capture_output=True, timeout=30).returncode == -signal.SIGKILL
    except (OSError, subprocess.SubprocessError): ok = False
    return exe if ok else None


def kill_run(cmd, d, mode, ahead, rng, logf, strace=None, timeout=60.):
    """Run `cmd` (`smt-nb train ... --out d`) and SIGKILL it at the moment `mode` (see the module doc), once `ahead`
    more checkpoints were written; returns (returncode, what happened). returncode -9: the kill landed; else the
    process ended on its own first."""
    start = ckpt_step(d) or 0
    stale = {n: ident(d/n) for n in WRITE_DIRS}
    m0 = ident(d/'metrics.jsonl')
    if mode == 'rename':
        # strace delivers SIGKILL on entering the (ahead+1)-th rename of .last.tmp/ to last/ in this process: after
        # last/ -> .last.old/, before .last.tmp/ -> last/ (on the run's very first save, before its only rename)
        cmd = [strace, '-f', '-qq', '-o', os.devnull, '-P', str(d/'.last.tmp'), '-e', 'trace=rename,renameat,renameat2',
               '-e', f'inject=rename,renameat,renameat2:signal=KILL:when={ahead + 1}', *cmd]
    proc = subprocess.Popen(cmd, env=child_env(), stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    t0 = time.monotonic()
    try:
        def alive(): return proc.poll() is None and time.monotonic() - t0 < timeout
        def fresh(*names): return any(ident(d/n) not in (None, stale[n]) for n in names)
        last = LastStep(d, start)
        if mode == 'rename':
            while alive(): time.sleep(0.005)
        elif mode == 'startup':
            time.sleep(rng.uniform(0.3, 1.8))
        else:
            while alive() and last() < start + ahead: time.sleep(0.0005)
            armed, m1 = last(), ident(d/'metrics.jsonl')
            if mode == 'delay' and ahead == 0:      # wait until the training loop runs (a record or a checkpoint)
                while alive() and ident(d/'metrics.jsonl') in (m0, m1) and not fresh('.last.tmp'): time.sleep(0.0005)
            names = dict(tmp=('.last.tmp',), old=('.last.old',), best=('.best.tmp', '.best.old')).get(mode)
            if names:
                # a plain kill if the event does not come within a few steps (best/ is written only on a new best)
                while alive() and not fresh(*names) and last() < armed + 5: time.sleep(0.0002)
            elif mode == 'log':
                while alive() and ident(d/'metrics.jsonl') == m1 and last() < armed + 3: time.sleep(0.0002)
            else:
                time.sleep(rng.uniform(0, 0.15))
        if proc.poll() is None: proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGKILL)   # a traced child left behind
    left = [n for n in WRITE_DIRS if ident(d/n) not in (None, stale[n])]
    return rc, dict(mode=mode, ahead=ahead, start=start, end=ckpt_step(d), during_write=left,
                    between_renames=not (d/'last').exists() and (d/'.last.old'/'state.json').exists(),
                    secs=round(time.monotonic() - t0, 2))


def weights(ck): return load_file(str(Path(ck)/'model.safetensors'))


def assert_same_tensors(a: dict, b: dict, what):
    assert a.keys() == b.keys(), f'{what}: tensor names differ: {sorted(set(a) ^ set(b))}'
    diff = [k for k in a if not (a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]))]
    assert not diff, (f'{what}: {len(diff)} of {len(a)} tensors differ from the uninterrupted run, e.g. {diff[:5]} '
                      f'(max abs diff {max(float((a[k].float() - b[k].float()).abs().max()) for k in diff[:5]):.3g})')


def assert_same_obj(a, b, where='optimizer.pt'):
    "Equal nested state (dicts, lists, tensors compared with torch.equal)."
    if torch.is_tensor(a) or torch.is_tensor(b):
        assert torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b), f'{where} differs'
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f'{where}: keys differ'
        for k in a: assert_same_obj(a[k], b[k], f'{where}[{k!r}]')
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f'{where}: lengths differ'
        for i, (x, y) in enumerate(zip(a, b)): assert_same_obj(x, y, f'{where}[{i}]')
    else: assert a == b, f'{where}: {a!r} != {b!r}'


def records(d):
    "The records of metrics.jsonl without their training seconds."
    return [{k: v for k, v in r.items() if k != 'time'} for r in CK.read_metrics(d)]


def check_same_run(run: Path, ref: Path, steps: int):
    info = CK.verify_checkpoint(run/'last')
    assert info['state']['step'] == steps, f'{run}: last/ at step {info["state"]["step"]}, expected {steps}'
    assert_same_tensors(weights(run/'last'), weights(ref/'last'), f'{run}/last/model.safetensors')
    load = lambda p: torch.load(p, map_location='cpu', weights_only=True)
    assert_same_obj(load(run/'last'/'optimizer.pt'), load(ref/'last'/'optimizer.pt'), f'{run}/last/optimizer.pt')
    assert_same_tensors(weights(run/'best'), weights(ref/'best'), f'{run}/best/model.safetensors')
    sb, rb = CK.verify_checkpoint(run/'best')['state'], CK.verify_checkpoint(ref/'best')['state']
    assert (sb['step'], sb['best']) == (rb['step'], rb['best']), f'{run}/best: {sb["best"]} != {rb["best"]}'
    got, want = records(run), records(ref)
    train_got = {r['step']: r['loss'] for r in got if 'loss' in r}
    train_want = {r['step']: r['loss'] for r in want if 'loss' in r}
    assert train_got == train_want, f'{run}/metrics.jsonl: training losses differ: ' + str(
        {s: (train_got.get(s), train_want.get(s)) for s in sorted(set(train_got) | set(train_want)) if train_got.get(s) != train_want.get(s)})
    assert [r['step'] for r in got] == [r['step'] for r in want], f'{run}/metrics.jsonl: steps logged differ (lost or repeated records)'
    assert got == want, f'{run}/metrics.jsonl: records differ: ' + str([(a, b) for a, b in zip(got, want) if a != b][:2])
    return [n for n in WRITE_DIRS if (run/n).exists()]


@pytest.mark.parametrize('seed,steps,kills', [
    pytest.param(0, 24, 10, id='10-kills'),
    pytest.param(1, 60, 40, id='40-kills', marks=pytest.mark.skipif(not SLOW, reason='set SMT_NB_TEST_FLAGS=slow')),
])
def test_kill_resume(tmp_path, seed, steps, kills):
    exe = smt_nb_exe()
    if exe is None: pytest.skip('the smt-nb command is not installed')
    with open(tmp_path/'child.log', 'ab') as logf:
        kill_resume(exe, tmp_path, logf, random.Random(seed), steps, kills, deadline=time.monotonic() + 5 * kills + 60)


def kill_resume(exe, tmp_path, logf, rng, steps, kills, deadline):
    log_text = lambda: (tmp_path/'child.log').read_text(errors='replace')[-3000:]
    strace = strace_exe()
    schedule = [m if m != 'rename' or strace else 'old' for _ in range(-(-kills // len(SCHEDULE))) for m in SCHEDULE]
    rng.shuffle(schedule)

    ref = tmp_path/'ref'
    r = subprocess.run([exe, *tiny(steps), '--out', str(ref)], env=child_env(), stdout=logf, stderr=logf, timeout=120)
    assert r.returncode == 0, f'the reference run failed:\n{log_text()}'

    landed, events, runs, refused, fresh_again, procs, stale_old = 0, [], [], 0, 0, 1, 0
    while landed < kills:                              # a run that ends before enough kills landed: another one
        run = tmp_path/f'run{len(runs)}'; runs.append(run)
        ever_ckpt = False
        while True:
            assert time.monotonic() < deadline and procs < 6 * kills, (
                f'no end after {procs} processes ({landed} kills landed); events: {events[-5:]}\n{log_text()}')
            found = [n for n in CK.RUN_FILES if (run/n).exists()]
            to_lose = (run/'best').exists() or (run/'last').exists() or (
                (run/'metrics.jsonl').exists() and bool(CK.read_metrics(run)))
            if found and ckpt_step(run) is None and to_lose:
                # killed before its first checkpoint, after step-0 records or best/: the documented refusal, which
                # touches nothing; then start over as its message says (only ever before any checkpoint existed).
                # (With nothing to lose, e.g. only config.json, --resume simply starts again.)
                assert not ever_ckpt, f'{run}: a checkpoint was written, but none is left to resume from ({found})'
                before = snapshot(run)
                p = subprocess.run([exe, *tiny(steps), '--out', str(run), '--resume'], env=child_env(),
                                   capture_output=True, text=True, timeout=120)
                procs += 1
                assert p.returncode == 2 and 'no checkpoint to continue from' in p.stderr, (p.returncode, p.stderr[-2000:])
                assert snapshot(run) == before, f'{run}: a refused --resume touched the run directory'
                shutil.rmtree(run); refused += 1
                found = []
            fresh_again += bool(found) and ckpt_step(run) is None
            resume = bool(found) or rng.random() < 0.5      # --resume on a directory without a run starts one
            cmd = [exe, *tiny(steps), '--out', str(run)] + (['--resume'] if resume else [])
            if landed < kills:
                mode = schedule.pop() if schedule else rng.choice(SCHEDULE)
                mode = 'old' if mode == 'rename' and not strace else mode
                rc, what = kill_run(cmd, run, mode, rng.choice([0, 1, 1, 2]), rng, logf, strace)
            else:                                          # enough kills: let it finish
                t0 = time.monotonic()
                rc = subprocess.run(cmd, env=child_env(), stdout=logf, stderr=logf, timeout=120).returncode
                what = dict(mode='finish', secs=round(time.monotonic() - t0, 2))
            procs += 1
            events.append(dict(run=run.name, resume=resume, rc=rc, **what))
            assert rc in (0, -signal.SIGKILL), f'{" ".join(cmd[1:])} exited {rc}; events: {events[-3:]}\n{log_text()}'
            ever_ckpt = ever_ckpt or ckpt_step(run) is not None
            if rc == 0: break
            landed += 1
            if what['mode'] == 'rename' and (what['start'] or what['ahead']):
                assert what['between_renames'], f'strace did not kill between the two renames of a save: {what}'
        left = check_same_run(run, ref, steps)
        # Only one leftover is possible by design ("cleared by the next save"): a kill while the save of the final step
        # removed .last.old/, when the resumed run has no step left to do, so no save to clear it. Anything else is a bug.
        at_end = [e for e in events if e['run'] == run.name and e['rc'] == -signal.SIGKILL and e['end'] == steps
                  and '.last.old' in e['during_write']]
        assert left in ([], ['.last.old']), f'{run}: left behind {left}; events: {events[-3:]}'
        assert not left or at_end, (
            f'{run}: .last.old/ left behind, though a later save should have cleared it; events: {events[-3:]}')
        stale_old += bool(left)

    killed = [e for e in events if e['rc'] == -signal.SIGKILL]
    during = [e for e in killed if e['during_write']]
    cpu = lambda who: round(sum(getattr(resource.getrusage(who), f) for f in ('ru_utime', 'ru_stime')), 1)
    summary = dict(kills_landed=landed, during_checkpoint_writes=len(during),
                   between_renames=sum(e['between_renames'] for e in killed), refused_before_first_checkpoint=refused,
                   resumed_with_nothing_to_lose=fresh_again,
                   stale_last_old_in_finished_run=stale_old,
                   runs=len(runs), processes=procs, modes=dict(Counter(e['mode'] for e in killed)),
                   write_dirs_left=dict(Counter(n for e in during for n in e['during_write'])), strace=bool(strace),
                   cpu_s_test=cpu(resource.RUSAGE_SELF), cpu_s_children=cpu(resource.RUSAGE_CHILDREN))
    print('kill/resume:', json.dumps(summary))
    for e in events: print('  ', json.dumps(e))
    assert landed >= kills

"""`pip install smt_nb` as a user meets it: build the wheel, install it into a fresh virtual environment outside the
repository (CPU torch first, as the README says), and run the installed command there: `smt-nb --help`,
`smt-nb compare --help`, and a 10-second comparison. Also checks the installed metadata (license, URLs) and that the
package imports from the venv, not from this checkout. About a minute, most of it installing torch into the venv.
"""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd, cwd, timeout=600, env=None):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode == 0, f'{cmd} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}'
    return p.stdout


def test_wheel_in_a_fresh_venv(tmp_path):
    dist = tmp_path/'dist'
    run(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', dist, ROOT, cwd=tmp_path)
    wheel, = dist.glob('smt_nb-*.whl')
    venv = tmp_path/'venv'
    run(sys.executable, '-m', 'venv', venv, cwd=tmp_path)
    py, exe = venv/'bin'/'python', venv/'bin'/'smt-nb'
    run(py, '-m', 'pip', 'install', '-q', 'torch==2.13.0', cwd=tmp_path)
    run(py, '-m', 'pip', 'install', '-q', wheel, cwd=tmp_path)
    user = tmp_path/'user'; user.mkdir()                      # a folder that is not the repository
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env['OMP_NUM_THREADS'] = '1'
    info = json.loads(run(py, '-c', 'import json, smt_nb, importlib.metadata as m; md = m.metadata("smt_nb"); '
                          'print(json.dumps(dict(file=smt_nb.__file__, license=md["License-Expression"], '
                          'urls=md.get_all("Project-URL"))))', cwd=user, env=env))
    assert str(venv) in info['file'] and str(ROOT) not in info['file'], info['file']
    assert info['license'] == 'Apache-2.0'
    assert any(u.startswith('Homepage, https://') for u in info['urls']) and any(u.startswith('Repository, ') for u in info['urls'])
    assert 'train' in run(exe, '--help', cwd=user, env=env) and '--budget' in run(exe, 'compare', '--help', cwd=user, env=env)
    out = run(exe, 'compare', '--budget', '2', '--seq-len', '16', '--d-model', '16', '--hidden', '32', '--quiet',
              '--out', 'report.html', cwd=user, env=env, timeout=300)
    assert 'SMT→DMT' in out and 'BPTT' in out and (user/'report.html').is_file() and (user/'report.json').is_file()

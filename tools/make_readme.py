"""Write README.md from nbs/index.ipynb, offline (nbdev's README command needs Quarto).

    python tools/make_readme.py          # rewrite README.md
    python tools/make_readme.py --check  # exit 1 if README.md is stale
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC, DST = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
HIDE = re.compile(r'^\s*#\|\s*(hide|include:\s*false)\b', re.M)
DIRECTIVE = re.compile(r'^\s*#\|.*\n?', re.M)

def _text(x): return ''.join(x) if isinstance(x, list) else x

def _outputs(cell):
    out = []
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream' and o.get('name') == 'stdout': out.append(_text(o['text']))
        elif o['output_type'] in ('execute_result', 'display_data'):
            d = o.get('data', {})
            if 'text/markdown' in d: out.append(('md', _text(d['text/markdown'])))
            elif 'text/plain' in d and 'application/vnd.plotly.v1+json' not in d: out.append(_text(d['text/plain']))
    return out

def render(nb):
    parts = [f'# {nb_title(nb)}\n\n<!-- WARNING: generated from nbs/index.ipynb by tools/make_readme.py; edit the notebook, not this file -->\n']
    for i, cell in enumerate(nb['cells']):
        src = _text(cell['source'])
        if cell['cell_type'] == 'markdown':
            if i == 0 and src.lstrip().startswith('# '): src = '\n'.join(src.strip().splitlines()[1:]).strip()
            src = re.sub(r'\]\((images/)', r'](nbs/\1', src)     # images live beside the notebook: nbs/images/...
            if src.strip(): parts.append(src.strip() + '\n')
            continue
        if cell['cell_type'] != 'code' or HIDE.search(src): continue
        code = DIRECTIVE.sub('', src).strip()
        if code: parts.append(f'```python\n{code}\n```\n')
        for o in _outputs(cell):
            if isinstance(o, tuple): parts.append(o[1].strip() + '\n')
            elif o.strip(): parts.append(f'```\n{o.rstrip()}\n```\n')
    return '\n'.join(parts)

def nb_title(nb):
    first = _text(nb['cells'][0]['source']).strip().splitlines()
    return first[0][2:].strip() if first and first[0].startswith('# ') else 'smt_nb'

if __name__ == '__main__':
    text = render(json.loads(SRC.read_text()))
    if '--check' in sys.argv:
        if not DST.exists() or DST.read_text() != text:
            sys.exit('README.md is stale: run `python tools/make_readme.py` and commit it')
        print('README.md is up to date')
    else:
        DST.write_text(text); print(f'wrote {DST.relative_to(ROOT)}')

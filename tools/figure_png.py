"""Static PNG copies of the plotly figures saved in the notebooks, so that every figure shows where no JavaScript runs.

    python tools/figure_png.py --embed nbs/*.ipynb                           # every saved figure gets a PNG beside it
    python tools/figure_png.py nbs/11_compare.ipynb <cell id> out.png        # one figure as a file (README images)

A saved figure output then holds two forms of the same figure:
- `application/vnd.plotly.v1+json`: JupyterLab (and VS Code) draw it live and interactive from this;
- `image/png`: what every viewer without plotly.js shows: GitHub's notebook viewer, Colab's saved view, the
  docs site, and `jupyter nbconvert --to html` read offline.
The `text/html` form (plotly.js fetched from a CDN) is dropped: it is what nbconvert and GitHub would pick first, and it
is blank offline or without scripts. A live session is unaffected: the notebooks' renderer draws interactive figures.

Figures are rendered from their saved JSON with plotly.js inlined in headless Chromium (Debian: apt-get install
chromium), so no network and no kaleido are needed. Run it after executing notebooks, before `nbdev-clean`.
"""
import base64, json, shutil, subprocess, sys, tempfile
from pathlib import Path
import plotly.io as pio

PLOTLY = 'application/vnd.plotly.v1+json'

def figure_from_notebook(nb_path, cell_id):
    nb = json.loads(Path(nb_path).read_text())
    cell = next((c for c in nb['cells'] if c.get('id') == cell_id), None)
    if cell is None: sys.exit(f'no cell with id {cell_id} in {nb_path}')
    for o in cell.get('outputs', []):
        d = o.get('data', {}).get(PLOTLY)
        if d: return pio.from_json(json.dumps(d))
    sys.exit(f'cell {cell_id} of {nb_path} has no saved plotly figure')

def save_png(fig, out, scale=1):
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if exe is None: sys.exit('needs Chromium: apt-get install chromium')
    w, h = fig.layout.width or 900, fig.layout.height or 450
    with tempfile.TemporaryDirectory() as d:
        page = Path(d)/'fig.html'
        fig.write_html(page, include_plotlyjs=True, full_html=True, config=dict(displayModeBar=False, staticPlot=True))
        page.write_text(page.read_text().replace('<head>', '<head><style>body{margin:0}</style>', 1))
        subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', f'--window-size={w},{h}',
                        f'--force-device-scale-factor={scale}', '--virtual-time-budget=5000',
                        f'--screenshot={Path(out).resolve()}', page.as_uri()], check=True, capture_output=True, timeout=120)
    return w, h

def small_png(path) -> bytes:
    "The PNG with its colours reduced to a 256-colour palette (a plotly figure has few): about 2.5x smaller, same look."
    try: from PIL import Image
    except ImportError: return Path(path).read_bytes()
    import io
    buf = io.BytesIO()
    Image.open(path).convert('RGB').quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, 'PNG', optimize=True)
    return buf.getvalue()

def is_plotly_loader(o):
    "The output `notebook_connected` writes once per session: a script tag that fetches plotly.js, nothing to see."
    d = o.get('data', {})
    return set(d) <= {'text/html', 'text/plain'} and 'cdn.plot.ly' in ''.join(d.get('text/html', '')) and PLOTLY not in d

def embed(nb_path):
    "Give every saved plotly figure of a notebook its PNG; drop the CDN-loading HTML forms. Returns the number of figures."
    nb = json.loads(Path(nb_path).read_text())
    n = 0
    with tempfile.TemporaryDirectory() as d:
        for cell in nb['cells']:
            outs = [o for o in cell.get('outputs', []) if not is_plotly_loader(o)]
            for o in outs:
                data = o.get('data', {})
                if PLOTLY not in data: continue
                save_png(pio.from_json(json.dumps(data[PLOTLY])), f'{d}/fig.png')
                data.pop('text/html', None)
                data['image/png'] = base64.b64encode(small_png(Path(f'{d}/fig.png'))).decode() + '\n'
                n += 1
            if 'outputs' in cell: cell['outputs'] = outs
    Path(nb_path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return n

if __name__ == '__main__':
    if sys.argv[1:2] == ['--embed']:
        for p in sys.argv[2:]: print(f'{p}: {embed(p)} figure(s) with a PNG')
    else:
        nb, cell, out = sys.argv[1:4]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        w, h = save_png(figure_from_notebook(nb, cell), out)
        print(f'wrote {out} ({w}x{h})')

"""Save a plotly figure from a notebook's saved outputs as a PNG (for the README, which GitHub shows without JavaScript).

    python tools/figure_png.py nbs/11_compare.ipynb <cell id> nbs/images/compare_length.png

Renders the figure's saved JSON with plotly.js inlined in headless Chromium (Debian: apt-get install chromium), so no
network and no kaleido are needed. The PNG is the figure as the notebook shows it, from the same saved run.
"""
import json, shutil, subprocess, sys, tempfile
from pathlib import Path
import plotly.io as pio

def figure_from_notebook(nb_path, cell_id):
    nb = json.loads(Path(nb_path).read_text())
    cell = next((c for c in nb['cells'] if c.get('id') == cell_id), None)
    if cell is None: sys.exit(f'no cell with id {cell_id} in {nb_path}')
    for o in cell.get('outputs', []):
        d = o.get('data', {}).get('application/vnd.plotly.v1+json')
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
    print(f'wrote {out} ({w}x{h})')

if __name__ == '__main__':
    nb, cell, out = sys.argv[1:4]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_png(figure_from_notebook(nb, cell), out)

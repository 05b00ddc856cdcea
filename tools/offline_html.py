"""Render notebooks to HTML that reads offline, and check it in a browser with the network cut.

    python tools/offline_html.py nbs/*.ipynb --out _offline            # render
    python tools/offline_html.py nbs/*.ipynb --out _offline --check    # render, open each page in headless Chromium
                                                                       # with every host unreachable, and report

Figures: the saved notebooks carry a PNG beside every plotly figure (`tools/figure_png.py --embed`), which nbconvert
shows without plotly.js. Math: nbconvert loads MathJax from a CDN; here it points at the MathJax 2.7 copy that the
`jupyter-server-mathjax` package installs (a dev dependency; its config TeX-AMS-MML_HTMLorMML-full), so equations
typeset offline too.
`--check` writes `<out>/<notebook>.figures.png`, every figure of the page at half size, for a look by eye, and exits
non-zero if an image failed to load, a plotly figure drew nothing, or an equation stayed as raw TeX.
"""
import argparse, base64, io, json, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

def mathjax_url():
    try: import jupyter_server_mathjax
    except ImportError:
        print('jupyter-server-mathjax is not installed: equations will load MathJax from the network', file=sys.stderr)
        return None
    return (Path(jupyter_server_mathjax.__file__).parent/'static'/'MathJax.js').as_uri() + '?config=TeX-AMS-MML_HTMLorMML-full,Safe'

def render(nb, out):
    cmd = [sys.executable, '-m', 'nbconvert', '--to', 'html', str(nb), '--output-dir', str(out), '--log-level', 'WARN']
    if (url := mathjax_url()): cmd.append(f'--HTMLExporter.mathjax_url={url}')
    subprocess.run(cmd, check=True)
    if (Path(nb).parent/'images').is_dir():                 # images the markdown cells link to (index: the diagram)
        shutil.copytree(Path(nb).parent/'images', Path(out)/'images', dirs_exist_ok=True)
    return Path(out)/(Path(nb).stem + '.html')

class Browser:
    "Headless Chromium over the DevTools protocol, every host name unresolvable (so nothing loads from the network)."
    def __init__(self):
        import websocket
        exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
        if exe is None: sys.exit('--check needs Chromium: apt-get install chromium')
        with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
        self.proc = subprocess.Popen([exe, '--headless=new', '--no-sandbox', '--disable-gpu', f'--remote-debugging-port={port}',
                                      '--host-resolver-rules=MAP * ~NOTFOUND', '--window-size=1200,900', 'about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try: tabs = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json')); break
            except OSError: time.sleep(0.2)
        self.ws = websocket.create_connection(next(t for t in tabs if t['type'] == 'page')['webSocketDebuggerUrl'], timeout=120)
        self.n = 0
        self.call('Page.enable'); self.call('Runtime.enable')
    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps(dict(id=self.n, method=method, params=params)))
        while True:
            m = json.loads(self.ws.recv())
            if m.get('id') == self.n: return m.get('result', m)
    def js(self, expr): return self.call('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)['result'].get('value')
    def close(self): self.ws.close(); self.proc.terminate()

PROBE = """(async () => {
  await new Promise(r => setTimeout(r, 4000));                       // let MathJax typeset
  const imgs = [...document.querySelectorAll('.jp-OutputArea-output img, .output_png img')];   // figures
  const all = [...document.querySelectorAll('img')].filter(i => !/^https?:/.test(i.getAttribute('src') || ''));
  // ^ figures and markdown images; not web badges (the "Open in Colab" button), which cannot load offline
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const text = document.body.innerText;
  return {images: all.length, broken: all.filter(i => !i.complete || i.naturalWidth === 0).length,
          blank_plotly: divs.filter(d => !d.querySelector('svg')).length,
          math: document.querySelectorAll('.MathJax, mjx-container').length,
          raw_tex: (text.match(/\\$\\$/g) || []).length / 2,
          boxes: imgs.map(i => { const r = i.getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height]; })};
})()"""

def check(browser, page):
    from PIL import Image
    browser.call('Page.navigate', url=page.resolve().as_uri()); time.sleep(1)
    r = browser.js(PROBE)
    shots = []
    for x, y, w, h in r.pop('boxes'):
        d = browser.call('Page.captureScreenshot', format='png', captureBeyondViewport=True, clip=dict(x=x, y=y, width=w, height=h, scale=0.5))
        shots.append(Image.open(io.BytesIO(base64.b64decode(d['data']))))
    if shots:
        sheet = Image.new('RGB', (max(s.width for s in shots), sum(s.height + 10 for s in shots)), 'white')
        y = 0
        for s in shots: sheet.paste(s, (0, y)); y += s.height + 10
        sheet.save(page.with_suffix('.figures.png'))
    return r

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='+'); ap.add_argument('--out', default='_offline'); ap.add_argument('--check', action='store_true')
    a = ap.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    pages = [render(nb, a.out) for nb in a.notebooks]
    if not a.check: sys.exit(print(f'{len(pages)} page(s) in {a.out}/'))
    browser, bad = Browser(), 0
    try:
        for p in pages:
            r = check(browser, p)
            ok = r['broken'] == 0 and r['blank_plotly'] == 0 and r['raw_tex'] == 0
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} {p.name:<28} images {r['images']:>2} (broken {r['broken']}), blank plotly {r['blank_plotly']}, "
                  f"typeset math {r['math']:>2}, raw $$ {r['raw_tex']:.0f}")
    finally: browser.close()
    sys.exit(1 if bad else 0)

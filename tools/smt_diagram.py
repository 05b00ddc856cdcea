"""Write nbs/images/smt_diagram.svg (the picture at the top of the index and README): SMT's training graph beside BPTT's chain.

    python tools/smt_diagram.py
"""
from pathlib import Path
W, H = 980, 430
out = []
def add(s): out.append(s)
def box(x, y, w, h, text, fill='#ffffff', stroke='#333', r=6, size=13, bold=False, color='#111'):
    add(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{r}" fill="{fill}" stroke="{stroke}" stroke-width="1.3"/>')
    fw = ' font-weight="bold"' if bold else ''
    add(f'<text x="{x + w / 2}" y="{y + h / 2 + size * 0.35}" text-anchor="middle" font-size="{size}" fill="{color}"{fw}>{text}</text>')
def arrow(x1, y1, x2, y2, color='#333', dash=None, width=1.4, marker='arr'):
    d = f' stroke-dasharray="{dash}"' if dash else ''
    add(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="{width}"{d} marker-end="url(#{marker})"/>')
def text(x, y, s, size=12, color='#333', anchor='middle', italic=False, bold=False):
    st = (' font-style="italic"' if italic else '') + (' font-weight="bold"' if bold else '')
    add(f'<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="{size}" fill="{color}"{st}>{s}</text>')

add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
    'font-family="Helvetica, Arial, sans-serif">')
add('<defs>')
for name, c in (('arr', '#333'), ('blue', '#1f77b4'), ('red', '#d62728'), ('green', '#2ca02c'), ('orange', '#e67e00')):
    add(f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{c}"/></marker>')
add('</defs>')
add(f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>')

# ---- left: SMT -------------------------------------------------------------
text(300, 26, 'SMT: supervised one-step transitions, all positions in parallel', 15, '#111', bold=True)
n, x0, dx = 6, 70, 80
xs = [x0 + i * dx for i in range(n)]
for i, x in enumerate(xs):                                        # tokens
    box(x - 22, 370, 44, 28, f'x<tspan font-size="10" dy="4">{i + 1}</tspan>', fill='#f2f2f2')
box(xs[0] - 30, 300, xs[-1] - xs[0] + 60, 40, 'memory encoder E (Transformer): one pass over all tokens', fill='#e8f1fb',
    stroke='#1f77b4', size=13)
for x in xs: arrow(x, 370, x, 342, '#1f77b4', marker='blue')
for i, x in enumerate(xs):                                        # labels
    arrow(x, 300, x, 262, '#1f77b4', marker='blue')
    box(x - 24, 232, 48, 28, f'm<tspan font-size="10" dy="4">{i + 1}</tspan>', fill='#dbe9f7', stroke='#1f77b4')
text(xs[-1] + 40, 250, 'labels', 11, '#1f77b4', anchor='start', italic=True)
# RNN regression at t = 4 (index 3): f(m_3, x_4) ≈ m_4
t = 3
fx, fy = xs[t] - 18, 160
box(fx - 30, fy, 56, 30, 'RNN f', fill='#fff4e0', stroke='#e67e00', size=12, bold=True)
arrow(xs[t - 1], 232, fx - 12, fy + 30, '#e67e00', marker='orange')                  # m_3 -> f
add(f'<path d="M {xs[t] - 34} 385 C {xs[t] - 120} 330, {fx - 70} 230, {fx - 26} {fy + 26}" fill="none" stroke="#e67e00" '
    f'stroke-width="1.4" stroke-dasharray="5 3" marker-end="url(#orange)"/>')           # x_4 -> f (around the encoder)
box(fx + 60, fy, 52, 30, 'm&#770;<tspan font-size="10" dy="4">4</tspan>', fill='#fff4e0', stroke='#e67e00')
arrow(fx + 26, fy + 15, fx + 58, fy + 15, '#e67e00', marker='orange')
add(f'<line x1="{fx + 86}" y1="{fy + 30}" x2="{xs[t] + 10}" y2="232" stroke="#e67e00" stroke-width="2" stroke-dasharray="2 3"/>')
text(fx + 150, fy + 50, 'L_dyn = ‖f(m₃, x₄) − m₄‖²', 12, '#e67e00', anchor='start')
text(fx + 150, fy + 66, 'one call of f for all t', 11, '#e67e00', anchor='start', italic=True)
# decoder from m_4 reading the future
box(150, 72, 300, 34, 'future decoder: m₄, x₅ … x₇ → y₄ … y₇', fill='#e9f6e9', stroke='#2ca02c', size=12)
add(f'<path d="M {xs[t] + 14} 232 C {xs[t] + 40} 190, {xs[t] + 60} 150, {xs[t] + 50} 108" fill="none" stroke="#2ca02c" '
    f'stroke-width="1.4" marker-end="url(#green)"/>')
text(150, 60, 'L_dec: the label m_t must predict the coming targets (a predictive state)', 12, '#2ca02c', anchor='start')
text(300, 420, 'gradient from any token to any label: one attention hop through E', 12, '#1f77b4', italic=True)

# ---- right: BPTT ------------------------------------------------------------
add('<line x1="640" y1="40" x2="640" y2="410" stroke="#cccccc" stroke-width="1"/>')
text(810, 26, 'BPTT: the same RNN, unrolled', 15, '#111', bold=True)
cx = 700
chain = [('m₀', 'm'), ('x₁', 'f'), ('m₁', 'm'), ('x₂', 'f'), ('m₂', 'm'), ('⋮', 'dots'), ('x_T', 'f'), ('m_T', 'm')]
y = 50
prev = None
for label, kind in chain:
    if kind == 'm':
        box(cx - 24, y, 48, 26, label, fill='#f6e3e3', stroke='#d62728'); h = 26
    elif kind == 'f':
        box(cx - 20, y, 40, 24, 'f', fill='#fff4e0', stroke='#e67e00', size=12, bold=True); h = 24
        text(cx + 62, y + 17, label, 12, '#333'); arrow(cx + 50, y + 12, cx + 22, y + 12, '#333')
    else:
        text(cx, y + 14, '⋮', 18, '#333'); h = 20
    if prev is not None: arrow(cx, prev, cx, y - 1, '#333')
    prev = y + h; y += h + 16
box(cx + 60, y - 42, 84, 26, 'loss at T', fill='#fbeaea', stroke='#d62728', size=12)
arrow(cx + 24, y - 29, cx + 58, y - 29, '#333')
add(f'<path d="M {cx + 102} {y - 44} C {cx + 112} {y - 150}, {cx + 110} 60, {cx + 28} 60" fill="none" stroke="#d62728" '
    'stroke-width="1.6" stroke-dasharray="6 4" marker-end="url(#red)"/>')
text(cx + 140, 150, 'the gradient back', 12, '#d62728', anchor='start')
text(cx + 140, 166, 'to token s crosses', 12, '#d62728', anchor='start')
text(cx + 140, 182, 'T − s copies of f:', 12, '#d62728', anchor='start')
text(cx + 140, 198, 'it vanishes', 12, '#d62728', anchor='start', italic=True)
text(cx + 140, 214, 'or explodes', 12, '#d62728', anchor='start', italic=True)
text(810, 420, 'training is T sequential steps', 12, '#d62728', italic=True)
add('</svg>')
open(Path(__file__).resolve().parents[1]/'nbs'/'images'/'smt_diagram.svg', 'w').write('\n'.join(out) + '\n')
print('wrote nbs/images/smt_diagram.svg')

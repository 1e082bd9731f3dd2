"""asyncify-ab: --export-svg, one row per variant: box (quartiles), whiskers
(min..max) and every run.
"""

import math
import statistics

from .common import shell_quote
from .report import fmt_ratio, fmt_time, unit_for


# ---------------------------------------------------------------------------
# SVG: one row per variant, box (quartiles), whiskers (min..max), every run
# as a dot, and the baseline's median as a dashed line.

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2")


def nice_step(span):
    raw = span / 5.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def svg_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def quartiles(xs):
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def svg_report(exp):
    data = [(v, [r for r in v.timed()]) for v in exp.variants]
    walls = [r["wall_s"] for _, runs in data for r in runs]
    if not walls:
        walls = [0.0, 1.0]
    lo, hi = min(walls), max(walls)
    span = (hi - lo) or max(hi, 1e-6) * 0.1
    step = nice_step(span * 1.1)
    x0 = math.floor((lo - span * 0.05) / step) * step
    x1 = math.ceil((hi + span * 0.05) / step) * step
    x0 = max(x0, 0.0)
    unit = unit_for((x0 + x1) / 2)
    left, right, top, row_h = 190, 30, 62, 64
    width = 820
    plot_w = width - left - right
    height = top + row_h * len(data) + 50

    def X(t):
        return left + (t - x0) / (x1 - x0) * plot_w

    title = "asyncify-ab: " + " ".join(shell_quote(c) for c in exp.command)
    if len(title) > 88:
        title = title[:87] + "…"
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (
             width, height, width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (
             12, svg_escape(title)),
         '<text x="12" y="42" fill="#555">wall time per run; %d timed runs per variant, '
         'interleaved; box = quartiles, whiskers = min..max, dashed = %s median</text>' % (
             exp.rounds, svg_escape(exp.baseline.name))]
    bottom = top + row_h * len(data)
    scale, unit_name = unit
    decimals = max(0, -int(math.floor(math.log10(step / scale) + 1e-9)))
    t = x0
    while t <= x1 + step / 2:
        x = X(t)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>' % (
            x, top, x, bottom))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#333">%s</text>' % (
            x, bottom + 18, "%.*f %s" % (decimals, t / scale, unit_name)))
        t += step
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (
        left, bottom, width - right, bottom))
    base_med = exp.baseline.stats["wall_s"]["median"] if exp.baseline.stats["wall_s"] else None
    for i, (v, runs) in enumerate(data):
        o += svg_row(exp, v, runs, top + i * row_h, row_h, X, unit, PALETTE[i % len(PALETTE)])
    if base_med is not None:
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" '
                 'stroke-dasharray="4 3"/>' % (X(base_med), top, X(base_med), bottom))
    o.append("</svg>")
    return o


def svg_row(exp, v, runs, y, h, X, unit, color):
    mid = y + h / 2
    o = []
    name_color = "#c00" if (v is not exp.baseline and not v.equivalent) else "#000"
    o.append('<text x="12" y="%.1f" font-weight="bold" fill="%s">%s</text>' % (
        mid - 4, name_color, svg_escape(v.name)))
    sub = ("baseline" if v is exp.baseline else
           ("identical output" if v.equivalent else "OUTPUT DIFFERS") +
           (", " + fmt_ratio(v.ratio) if v.ratio else ""))
    o.append('<text x="12" y="%.1f" font-size="11" fill="%s">%s</text>' % (
        mid + 12, name_color if name_color != "#000" else "#555", svg_escape(sub)))
    walls = [r["wall_s"] for r in runs]
    if not walls:
        o.append('<text x="%d" y="%.1f" fill="#c00">no completed runs</text>' % (X(0) + 4, mid))
        return o
    q1, q2, q3 = quartiles(sorted(walls))
    o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (
        X(min(walls)), mid, X(max(walls)), mid, color))
    for t in (min(walls), max(walls)):
        o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (
            X(t), mid - 8, X(t), mid + 8, color))
    o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" fill-opacity="0.25" '
             'stroke="%s"/>' % (X(q1), mid - 14, max(X(q3) - X(q1), 1), 28, color, color))
    o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3">'
             '<title>median %s</title></line>' % (
                 X(q2), mid - 14, X(q2), mid + 14, color, svg_escape(fmt_time(q2, unit))))
    for k, r in enumerate(runs):
        jitter = ((k * 7919) % 17 - 8) * 1.5   # deterministic spread, no overlap in rows
        outl = r["round"] in v.outliers
        o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s" fill-opacity="0.7"%s>'
                 '<title>round %d: %s</title></circle>' % (
                     X(r["wall_s"]), mid + jitter, color,
                     ' stroke="#c00" stroke-width="1.5"' if outl else "",
                     r["round"], svg_escape(fmt_time(r["wall_s"], unit))))
    return o

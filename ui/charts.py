"""Small HTML/SVG charts the native Gradio plots cannot draw: heatmaps, grouped bars, line
charts, a scatter map and plain tables (the silhouette plot and the dendrogram are in
:mod:`vibemap.ui.cluster_plots`). Pure functions from plain data to an HTML string (no
plotting library, no per-interaction image rendering); hover text comes from SVG
``<title>`` / ``title=``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

import pandas as pd

# Tableau 10: distinct, colour-blind-friendly enough, and the same in every chart
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def vibe_color(vibe_id: int) -> str:
    return PALETTE[int(vibe_id) % len(PALETTE)]


def _mix(c1: tuple[int, int, int], c2: tuple[int, int, int], t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    r, g, b = (round(a + (b_ - a) * t) for a, b_ in zip(c1, c2, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


_WHITE = (255, 255, 255)
_BLUE = (49, 99, 170)
_RED = (196, 58, 49)
_TEAL = (26, 110, 120)


def diverging(value: float, limit: float = 2.0) -> str:
    """Blue (negative) - white (0) - red (positive), saturating at +/- ``limit``."""
    if value is None or not math.isfinite(value):
        return "#eeeeee"
    t = min(abs(value) / limit, 1.0)
    return _mix(_WHITE, _RED if value > 0 else _BLUE, t)


def sequential(value: float, vmax: float) -> str:
    if value is None or not math.isfinite(value) or vmax <= 0:
        return "#ffffff"
    return _mix(_WHITE, _TEAL, value / vmax)


def _text_color(strength: float) -> str:
    return "#ffffff" if strength > 0.6 else "#1f2328"


def heatmap_html(row_labels: Sequence[str], col_labels: Sequence[str],
                 values: Sequence[Sequence[float | None]], *, diverge: bool = True,
                 limit: float = 2.0, fmt: str = "{:+.2f}", caption: str = "",
                 cell_titles: Sequence[Sequence[str]] | None = None,
                 vmax: float | None = None, elem_class: str = "vm-heatmap") -> str:
    """A table whose cell colours encode ``values`` (rows x cols); numbers stay readable.

    Diverging colours saturate at +/- ``limit``; sequential ones run from 0 to ``vmax``
    (default: the largest value)."""
    finite = [abs(v) for row in values for v in row if v is not None and math.isfinite(v)]
    if vmax is None:
        vmax = max(finite) if finite else 1.0
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in col_labels)
    body = []
    for i, (label, row) in enumerate(zip(row_labels, values, strict=True)):
        cells = []
        for j, v in enumerate(row):
            if v is None or not math.isfinite(v):
                cells.append('<td class="vm-na">–</td>')
                continue
            if diverge:
                bg, strength = diverging(v, limit), min(abs(v) / limit, 1.0)
            else:
                bg, strength = sequential(v, vmax), (v / vmax if vmax else 0.0)
            title = (cell_titles[i][j] if cell_titles
                     else f"{label} × {col_labels[j]}: {fmt.format(v)}")
            cells.append(f'<td style="background:{bg};color:{_text_color(strength)}" '
                         f'title="{escape(title)}">{escape(fmt.format(v))}</td>')
        body.append(f'<tr><th scope="row">{escape(str(label))}</th>{"".join(cells)}</tr>')
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f'<div class="{elem_class} vm-scroll"><table>{cap}<thead><tr><th></th>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')


def grouped_bars_svg(categories: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
                     *, y_label: str = "", width: int = 820, height: int = 280,
                     symmetric: bool = True, hover: Sequence[Sequence[str]] | None = None) -> str:
    """Side-by-side bars per category; ``series`` = (name, colour, values per category).

    With ``symmetric`` the y axis is centred on 0 (for z-scores)."""
    values = [v for _, _, vals in series for v in vals if v is not None and math.isfinite(v)]
    top = max([abs(v) for v in values] + [0.5]) * 1.1
    lo, hi = (-top, top) if symmetric else (min(0.0, min(values, default=0.0)), top)
    left, right, upper, lower = 44, 10, 24, 70
    plot_w, plot_h = width - left - right, height - upper - lower

    def y(v: float) -> float:
        return upper + (hi - v) / (hi - lo) * plot_h

    parts = [f'<svg class="vm-bars" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" role="img" '
             f'aria-label="{escape(y_label)}" xmlns="http://www.w3.org/2000/svg">']
    for tick in nice_ticks(lo, hi):
        ty = y(tick)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
                     f'stroke="{"#888" if tick == 0 else "#e5e5e5"}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#555">{tick:g}</text>')
    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    slot = plot_w / n_cat
    bar_w = slot * 0.8 / n_ser
    for i, cat in enumerate(categories):
        x0 = left + i * slot + slot * 0.1
        for s, (name, color, vals) in enumerate(series):
            v = vals[i]
            if v is None or not math.isfinite(v):
                continue
            ya, yb = sorted((y(0.0 if lo <= 0 <= hi else lo), y(v)))
            tip = hover[s][i] if hover else f"{name} · {cat}: {v:+.2f}"
            parts.append(f'<rect x="{x0 + s * bar_w:.1f}" y="{ya:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{max(yb - ya, 0.5):.1f}" fill="{color}"><title>{escape(tip)}'
                         f'</title></rect>')
        cx, cy = left + (i + 0.5) * slot, height - lower + 12
        parts.append(f'<text transform="translate({cx:.1f},{cy}) rotate(-20)" text-anchor="end" '
                     f'font-size="11" fill="#333">{escape(cat)}</text>')
    lx = width - right - sum(24 + 7 * len(name) for name, _, _ in series)
    for name, color, _ in series:  # legend, top right
        parts.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="14" font-size="12" fill="#333">'
                     f'{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    if y_label:
        parts.append(f'<text x="{left}" y="14" font-size="12" fill="#555">{escape(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round axis values (steps of 1, 2, 2.5 or 5 x 10^k) within [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    t = start
    while t <= hi + 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def table_html(frame: pd.DataFrame, *, elem_class: str = "vm-table", max_height: int = 0
               ) -> str:
    """A plain read-only HTML table (cheap to render, unlike an interactive data grid)."""
    if frame is None or frame.empty:
        return ""

    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4g}"
        return escape(str(v))

    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False, name=None))
    style = f' style="max-height:{max_height}px"' if max_height else ""
    return (f'<div class="{elem_class} vm-scroll"{style}><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def line_chart_svg(xs: Sequence[int], ys: Sequence[float], *, title: str, y_label: str = "",
                   marks: Sequence[tuple[int, str, str]] = (), color: str = "#4e79a7",
                   width: int = 560, height: int = 250, y_fmt: str = "{:.3g}") -> str:
    """A metric over integer x (e.g. K = 2..10): line, dots with hover values, and dashed
    vertical markers (x, label, colour) such as the chosen K and the elbow."""
    pts = [(int(x), float(y)) for x, y in zip(xs, ys, strict=True)
           if y is not None and math.isfinite(float(y))]
    left, right, upper, lower = 58, 14, 40, 36
    plot_w, plot_h = width - left - right, height - upper - lower
    parts = [f'<svg class="vm-line" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">'
             f'<text x="{left}" y="16" font-size="14" font-weight="600" fill="#222">'
             f'{escape(title)}</text>']
    if not pts:
        parts.append(f'<text x="{left}" y="{upper + 20}" font-size="12" fill="#777">no data</text>')
        return "".join(parts) + "</svg>"
    x_lo, x_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    y_lo, y_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    pad = (y_hi - y_lo) * 0.08 or abs(y_hi) * 0.1 or 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(x: float) -> float:
        return left + (x - x_lo) / ((x_hi - x_lo) or 1) * plot_w

    def py(y: float) -> float:
        return upper + (y_hi - y) / (y_hi - y_lo) * plot_h

    parts.append(y_gridlines(nice_ticks(y_lo, y_hi, 4), py, left, width - right, _short))
    for x in range(x_lo, x_hi + 1):
        parts.append(f'<text x="{px(x):.1f}" y="{height - lower + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#555">{x}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
                 f'font-size="11" fill="#555">K (number of vibes)</text>')
    if y_label:
        parts.append(f'<text x="{left}" y="32" font-size="11" fill="#777">{escape(y_label)}</text>')
    for i, (x, label, mark_color) in enumerate(marks):
        if x is None or not x_lo <= int(x) <= x_hi:
            continue
        mx = px(int(x))
        parts.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{upper}" y2="{upper + plot_h}" '
                     f'stroke="{mark_color}" stroke-width="1.5" stroke-dasharray="5,4"/>')
        parts.append(f'<text x="{mx + 4:.1f}" y="{upper + 11 + 13 * i}" font-size="11" '
                     f'fill="{mark_color}">{escape(label)}</text>')
    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
    for x, y in pts:
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}">'
                     f'<title>K = {x}: {escape(y_fmt.format(y))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def y_gridlines(ticks: Sequence[float], py: Callable[[float], float], x0: float, x1: float,
                label: Callable[[float], str] = "{:g}".format) -> str:
    """Horizontal grid lines from x0 to x1, each labelled left of x0."""
    return "".join(f'<line x1="{x0}" x2="{x1}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                   f'<text x="{x0 - 5}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#555">{label(t)}</text>' for t in ticks)


def _short(v: float) -> str:
    """Axis numbers: 12,000 -> 12k; 0.25 stays."""
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def scatter_svg(xs: Sequence[float], ys: Sequence[float], groups: Sequence[str],
                tips: Sequence[str], colors: dict[str, str], *, x_label: str = "",
                y_label: str = "", width: int = 900, height: int = 430) -> str:
    """A static scatter plot: one circle per point coloured by group, hover text from
    ``tips``. Static SVG on purpose: nothing re-renders when the page's layout changes."""
    left, right, upper, lower = 46, 12, 30, 40
    plot_w, plot_h = width - left - right, height - upper - lower
    parts = [f'<svg class="vm-scatter" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" role="img" aria-label="scatter plot" '
             f'xmlns="http://www.w3.org/2000/svg">']
    pts = [(float(x), float(y), g, t) for x, y, g, t in zip(xs, ys, groups, tips, strict=True)
           if math.isfinite(float(x)) and math.isfinite(float(y))]
    if not pts:
        return ""
    x_lo, x_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    y_lo, y_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    x_pad, y_pad = (x_hi - x_lo) * 0.03 or 1.0, (y_hi - y_lo) * 0.03 or 1.0
    x_lo, x_hi, y_lo, y_hi = x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return upper + (y_hi - y) / (y_hi - y_lo) * plot_h

    for tick in nice_ticks(x_lo, x_hi, 8):
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{upper}" '
                     f'y2="{upper + plot_h}" stroke="#eee"/><text x="{px(tick):.1f}" '
                     f'y="{upper + plot_h + 14}" text-anchor="middle" font-size="11" '
                     f'fill="#555">{tick:g}</text>')
    parts.append(y_gridlines(nice_ticks(y_lo, y_hi, 6), py, left, left + plot_w))
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                 f'font-size="12" fill="#444">{escape(x_label)}</text>'
                 f'<text x="12" y="{upper + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
                 f'fill="#444" transform="rotate(-90 12,{upper + plot_h / 2:.1f})">'
                 f'{escape(y_label)}</text>')
    order = list(dict.fromkeys(p[2] for p in pts))
    parts.append('<g fill-opacity="0.7">')
    for g in order:
        parts.append(f'<g fill="{colors.get(g, "#888")}">')
        parts.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.6"><title>{escape(t)}'
                     f'</title></circle>' for x, y, grp, t in pts if grp == g)
        parts.append("</g>")
    parts.append("</g>")
    lx = left
    for g in order:  # legend, top left
        parts.append(f'<circle cx="{lx + 5}" cy="12" r="5" fill="{colors.get(g, "#888")}"/>'
                     f'<text x="{lx + 14}" y="16" font-size="12" fill="#333">{escape(g)}</text>')
        lx += 30 + 7 * len(g)
    parts.append("</svg>")
    return "".join(parts)

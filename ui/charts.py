"""Small HTML/SVG charts the native Gradio plots cannot draw: heatmaps, grouped bars and
a dendrogram. Pure functions from plain data to an HTML string (no plotting library, no
per-interaction image rendering); hover text comes from SVG ``<title>`` / ``title=``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    for tick in _ticks(lo, hi):
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


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
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

    for tick in _ticks(y_lo, y_hi, 4):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#eee"/><text x="{left - 5}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f'{_short(tick)}</text>')
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


def _short(v: float) -> str:
    """Axis numbers: 12,000 -> 12k; 0.25 stays."""
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def silhouette_svg(groups: Sequence[tuple[str, str, Sequence[float], int, float]], *,
                   overall: float | None = None, width: int = 760, height: int = 360) -> str:
    """The classic silhouette plot: per vibe (name, colour, silhouettes sorted high to low
    (quantiles), size, mean) a band whose length at each height is a track's silhouette;
    band heights are proportional to vibe size (with a readable minimum)."""
    groups = [g for g in groups if g[2]]
    if not groups:
        return ""
    values = [v for g in groups for v in g[2]]
    x_lo, x_hi = min(min(values), -0.1), max(max(values), 1.0)
    left = 24 + 7 * max(len(f"{g[0]} (0.00)") for g in groups)
    right, upper, lower = 16, 14, 34
    plot_w, plot_h = width - left - right, height - upper - lower
    gap = 6
    total = sum(max(g[3], 1) for g in groups)
    min_h = 18
    raw = [max(plot_h - gap * (len(groups) - 1), 1) * max(g[3], 1) / total for g in groups]
    spare = sum(max(min_h - h, 0) for h in raw)
    big = sum(h for h in raw if h > min_h) or 1
    heights = [min_h if h <= min_h else h - spare * h / big for h in raw]

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    parts = [f'<svg class="vm-silhouette" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" role="img" aria-label="silhouette plot" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for tick in _ticks(x_lo, x_hi, 6):
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{upper}" '
                     f'y2="{upper + plot_h}" stroke="{"#999" if tick == 0 else "#eee"}"/>'
                     f'<text x="{px(tick):.1f}" y="{height - lower + 14}" text-anchor="middle" '
                     f'font-size="11" fill="#555">{tick:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
                 f'font-size="11" fill="#555">silhouette of each track (sorted within its vibe)'
                 f'</text>')
    y = float(upper)
    for (name, color, qs, size, mean), h in zip(groups, heights, strict=True):
        n = len(qs)
        pts = [f"{px(0):.1f},{y:.1f}"]
        for i, v in enumerate(qs):
            pts.append(f"{px(v):.1f},{y + h * (i + 0.5) / n:.1f}")
        pts.append(f"{px(0):.1f},{y + h:.1f}")
        parts.append(f'<polygon points="{" ".join(pts)}" fill="{color}" fill-opacity="0.85">'
                     f'<title>{escape(name)}: {size:,} tracks, mean silhouette {mean:.3f}'
                     f'</title></polygon>')
        parts.append(f'<text x="{left - 8}" y="{y + h / 2 + 4:.1f}" text-anchor="end" '
                     f'font-size="12" fill="#222">{escape(name)} ({mean:.2f})</text>')
        y += h + gap
    if overall is not None and math.isfinite(overall):
        parts.append(f'<line x1="{px(overall):.1f}" x2="{px(overall):.1f}" y1="{upper}" '
                     f'y2="{upper + plot_h}" stroke="#c43a31" stroke-dasharray="5,4"/>'
                     f'<text x="{px(overall) + 4:.1f}" y="{upper + 10}" font-size="11" '
                     f'fill="#c43a31">mean {overall:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


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

    for tick in _ticks(x_lo, x_hi, 8):
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{upper}" '
                     f'y2="{upper + plot_h}" stroke="#eee"/><text x="{px(tick):.1f}" '
                     f'y="{upper + plot_h + 14}" text-anchor="middle" font-size="11" '
                     f'fill="#555">{tick:g}</text>')
    for tick in _ticks(y_lo, y_hi, 6):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#eee"/><text x="{left - 5}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#555">{tick:g}</text>')
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


def dendrogram_coords(linkage: Sequence[Sequence[float]]) -> tuple[list, list, list[int]]:
    """scipy-style (icoord, dcoord, leaf order) from a linkage matrix (n-1 rows of
    [left, right, height, count]); leaves sit at x = 5, 15, 25, ... as in scipy."""
    n = len(linkage) + 1
    pos: dict[int, float] = {}
    height: dict[int, float] = {i: 0.0 for i in range(n)}
    order: list[int] = []

    def place(node: int) -> float:
        if node < n:
            if node not in pos:
                pos[node] = 5.0 + 10.0 * len(order)
                order.append(node)
            return pos[node]
        left, right = int(linkage[node - n][0]), int(linkage[node - n][1])
        pos[node] = (place(left) + place(right)) / 2
        return pos[node]

    if n > 1:
        place(2 * n - 2)
    icoord, dcoord = [], []
    for i, (left, right, h, *_rest) in enumerate(linkage):
        left, right, node = int(left), int(right), n + i
        height[node] = float(h)
        icoord.append([pos[left], pos[left], pos[right], pos[right]])
        dcoord.append([height[left], float(h), float(h), height[right]])
    return icoord, dcoord, order


def dendrogram_svg(icoord: Sequence[Sequence[float]], dcoord: Sequence[Sequence[float]],
                   leaf_labels: Sequence[str], *, leaf_colors: Sequence[str] | None = None,
                   cut_height: float | None = None, cut_label: str = "", width: int = 760,
                   height: int = 320, y_label: str = "Ward distance") -> str:
    """Draw a dendrogram from scipy-style coordinates; leaves labelled along the bottom."""
    n_leaves = max(len(leaf_labels), 1)
    x_max = 10.0 * n_leaves
    y_max = max([max(d) for d in dcoord] + [cut_height or 0.0, 1e-9]) * 1.05
    left, right, upper = 52, 12, 16
    lower = 24 + min(7 * max((len(s) for s in leaf_labels), default=0), 110)
    plot_w, plot_h = width - left - right, height - upper - lower

    def px(x: float) -> float:
        return left + x / x_max * plot_w

    def py(v: float) -> float:
        return upper + (1 - v / y_max) * plot_h

    parts = [f'<svg class="vm-dendrogram" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" role="img" '
             f'aria-label="Ward dendrogram" xmlns="http://www.w3.org/2000/svg">']
    for tick in _ticks(0.0, y_max):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#eee"/><text x="{left - 4}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f'{tick:g}</text>')
    for xs, ys in zip(icoord, dcoord, strict=True):
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#444" stroke-width="1.3">'
                     f'<title>merge at {ys[1]:.3g}</title></polyline>')
    if cut_height is not None:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(cut_height):.1f}" '
                     f'y2="{py(cut_height):.1f}" stroke="#c43a31" stroke-dasharray="5,4"/>'
                     f'<text x="{width - right}" y="{py(cut_height) - 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#c43a31">{escape(cut_label)}</text>')
    for i, label in enumerate(leaf_labels):
        x = px(5.0 + 10.0 * i)
        y0 = height - lower + 10
        color = leaf_colors[i] if leaf_colors else "#333"
        parts.append(f'<text transform="translate({x:.1f},{y0}) rotate(-50)" text-anchor="end" '
                     f'font-size="10" fill="{color}">{escape(str(label))}</text>')
    parts.append(f'<text x="6" y="{upper + plot_h / 2:.1f}" font-size="11" fill="#555" '
                 f'transform="rotate(-90 6,{upper + plot_h / 2:.1f})" text-anchor="middle" '
                 f'dy="8">{escape(y_label)}</text></svg>')
    return "".join(parts)


CSS = """
.vm-heatmap table { border-collapse: collapse; font-size: 13px; }
.vm-heatmap th, .vm-heatmap td { padding: 4px 8px; border: 1px solid #fff; text-align: right;
  white-space: nowrap; }
.vm-heatmap th[scope=row] { text-align: left; font-weight: 600; }
.vm-heatmap caption { caption-side: bottom; text-align: left; color: #666; font-size: 12px;
  padding-top: 4px; }
.vm-na { color: #aaa; }
.vm-table table { border-collapse: collapse; width: 100%; font-size: 13px; }
.vm-table th { text-align: left; position: sticky; top: 0; border-bottom: 2px solid #ddd;
  background: var(--block-background-fill, #fff); padding: 6px 8px; }
.vm-table td { border-bottom: 1px solid #eee; padding: 5px 8px; vertical-align: top; }
#vm-results td:last-child { min-width: 340px; }
.vm-table tbody tr:hover { background: rgba(242, 142, 43, 0.08); }
.vm-scroll { overflow: auto; }
.vm-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
  gap: 12px; }
.vm-card { border: 1px solid #ddd; border-left: 6px solid var(--vm-c, #888);
  border-radius: 8px; padding: 10px 14px; background: #fff; color: #1f2328; }
.vm-card h3 { margin: 0 0 4px 0; font-size: 17px; }
.vm-card .vm-meta { color: #555; font-size: 13px; margin-bottom: 6px; }
.vm-card ul { margin: 4px 0 0 18px; padding: 0; font-size: 13px; }
.vm-card .vm-sig { font-style: italic; margin: 4px 0; }
.vm-grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 10px 18px; }
.vm-grid2 > div { background: #fff; border: 1px solid #e5e5e5; border-radius: 8px; padding: 6px; }
.vm-banner { background: #fff4d6; border: 1px solid #e8b73a; color: #5c4400; border-radius: 6px;
  padding: 6px 12px; font-weight: 600; }
.vm-error { background: #fde8e6; border: 1px solid #d9534f; color: #7a1f1b; border-radius: 6px;
  padding: 6px 12px; }
"""

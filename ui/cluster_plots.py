"""The two clustering diagnostics drawn as SVG: the silhouette plot and the Ward dendrogram.
Pure functions from plain data to an SVG string, like :mod:`vibemap.ui.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from vibemap.ui.charts import nice_ticks


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
    for tick in nice_ticks(x_lo, x_hi, 6):
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
    for tick in nice_ticks(0.0, y_max):
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

"""The read-only analysis tabs (vibes, genres, outliers & taxonomy): plain functions of
(client) -> outputs, like :mod:`vibemap.ui.handlers`, over GET /v1/vibes, GET /v1/validation
(metrics.json) and GET /v1/validation/outliers. The validation tab is
:mod:`vibemap.ui.validation`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

from vibemap.ui import charts, cluster_plots
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import (
    Client,
    basis_text,
    error_md,
    fmt_unit,
    genres_text,
    info_md,
    num,
)
from vibemap.ui.validation import NOT_EVALUATED, not_evaluated

logger = logging.getLogger(__name__)


# -- tab 3: vibes -----------------------------------------------------------------------------
def vibes_view(client: Client) -> tuple[str, str, str]:
    """(cards HTML, z-score heatmap HTML, status), all from GET /v1/vibes."""
    try:
        body = client.vibes()
    except ApiError as err:
        return "", "", error_md(err)
    vibes = body["vibes"]
    if not vibes:
        return "", "", info_md("No vibes in this artifact.")
    cards = "".join(_vibe_card(v) for v in vibes)
    heat = _profile_heatmap(vibes, body["features"])
    return f'<div class="vm-cards">{cards}</div>', heat, f"{len(vibes)} musical personalities."


def _vibe_card(v: Mapping[str, Any]) -> str:
    vid, size = v["vibe_id"], v["size"]
    meta = f"{size:,} tracks · {num(v['share']):.1%} of the catalogue"
    sig = escape(v["signature"])
    genre_bits = [f"{escape(g['genre'])} ({g['count'] / size:.0%})"
                  for g in v["top_genres"][:5]] if size else []
    listed = "".join(f"<li>{escape(t['name'])} — {escape(t['artist'])}</li>"
                     for t in v["typical_tracks"][:5])
    return (f'<div class="vm-card" style="--vm-c:{charts.vibe_color(vid)}">'
            f'<h3>{escape(v["name"])}</h3><div class="vm-meta">vibe #{vid} · {meta}</div>'
            + (f'<div class="vm-sig">{sig}</div>' if sig else "")
            + (f"<div><b>Top genres:</b> {', '.join(genre_bits)}</div>" if genre_bits else "")
            + (f"<div><b>Typical tracks:</b><ul>{listed}</ul></div>" if listed else "")
            + "</div>")


def _profile_heatmap(vibes: Sequence[Mapping[str, Any]], features: Sequence[str]) -> str:
    rows, labels, titles = [], [], []
    for v in vibes:
        z, orig = v["centroid_z"], v["centroid"]
        rows.append([num(z[f]) for f in features])
        labels.append(v["name"])
        titles.append([f"{v['name']} · {f}: z = {num(z[f]):+.2f}, mean "
                       f"{fmt_unit(f, orig[f], '')}" for f in features])
    return charts.heatmap_html(labels, list(features), rows, diverge=True, cell_titles=titles,
                               caption="Centroid of each vibe in z-scores of the catalogue "
                                       "(0 = average track; red above, blue below).")


# -- tab 5: genres ----------------------------------------------------------------------------
def genres_view(client: Client, top: int = 20) -> tuple[str, str]:
    """(genre x vibe heatmap HTML, purity/NMI markdown)."""
    try:
        metrics = client.validation()
        names = {v["vibe_id"]: v["name"] for v in client.vibes()["vibes"]}
    except ApiError as err:
        return "", error_md(err)
    if not_evaluated(metrics):
        return "", info_md(NOT_EVALUATED)
    gmap = metrics["genres"] or {"genres": []}  # null: the catalogue has no genre labels
    genres, counts = gmap["genres"], gmap.get("counts")
    if not genres:
        return "", info_md("No genre labels in this catalogue, so no genre × vibe map.")
    vibe_ids = gmap["vibe_ids"]
    per = {p["genre"]: p for p in gmap["per_genre"]}
    labels, rows, titles = [], [], []
    for genre, row in list(zip(genres, counts, strict=True))[:top]:
        total = sum(row) or 1
        shares = [c / total for c in row]
        labels.append(f"{genre} ({total:,}) · purity {per[genre]['purity']:.0%}")
        rows.append(shares)
        titles.append([f"{genre} → {names.get(v, v)}: {c:,} of {total:,} tracks ({sh:.0%})"
                       for v, c, sh in zip(vibe_ids, row, shares, strict=True)])
    cols = [names.get(v, f"vibe {v}") for v in vibe_ids]
    html = charts.heatmap_html(
        labels, cols, rows, diverge=False, fmt="{:.0%}", cell_titles=titles, vmax=1.0,
        caption=f"Where each genre's tracks fall: share per vibe (rows sum to 100%). The "
                f"{min(top, len(genres))} genres with most tracks of {len(genres)} with at least "
                f"{gmap['min_tracks']} tracks; purity = share in its main vibe.")
    cmp_ = gmap["primary_genre_vs_vibe"]
    weighted = (sum(p["purity"] * p["tracks"] for p in per.values())
                / (sum(p["tracks"] for p in per.values()) or 1))
    lines = [f"**NMI(primary genre, vibe) = {num(cmp_['nmi']):.3f}** · ARI = "
             f"{num(cmp_['ari']):.3f} — 0: the vibes ignore genre; 1: each vibe is exactly a "
             "set of genres.",
             f"**Mean genre purity = {weighted:.1%}** (weighted by tracks): on average, that "
             "share of a genre's tracks sits in the genre's main vibe.",
             f"{int(gmap['n_tracks_with_genre']):,} of {int(gmap['n_tracks']):,} tracks carry "
             "a genre label."]
    return html, "\n\n".join(lines)


# -- tab 6: outliers & taxonomy ---------------------------------------------------------------
ATYPICAL_COLUMNS = ["title", "artist", "vibe", "genres", "k-distance"]


def outliers_view(client: Client) -> tuple[str, pd.DataFrame, str]:
    """(DBSCAN summary md, most atypical tracks, Ward dendrogram HTML)."""
    empty = pd.DataFrame(columns=ATYPICAL_COLUMNS)
    try:
        metrics = client.validation()
        vibes = client.vibes()["vibes"]
        out = client.outliers(limit=20) if not not_evaluated(metrics) else {}
    except ApiError as err:
        return error_md(err), empty, ""
    if not out.get("evaluated"):
        return info_md(NOT_EVALUATED), empty, ""
    sizes = out["cluster_sizes"] or [0]
    lines = [f"**{out['n_outliers']:,} outliers — {num(out['outlier_share']):.2%} of "
             f"{out['n_tracks']:,} tracks.** DBSCAN leaves them as noise: fewer than "
             f"{out['min_samples']} tracks lie within eps = {num(out['eps']):.3g} of them in "
             "z-score space.",
             f"DBSCAN itself finds {out['n_clusters']} dense region(s); the largest holds "
             f"{int(sizes[0]):,} tracks.",
             f"<small>How eps was chosen: {escape(str(out['rule']))}. DBSCAN "
             f"{escape(basis_text(metrics, 'outliers'))}.</small>"]
    rows = [{"title": t["name"], "artist": t["artist"], "vibe": t["vibe_name"],
             "genres": genres_text(t["genres"]), "k-distance": round(num(t["k_distance"]), 3)}
            for t in out["tracks"]]
    frame = pd.DataFrame(rows, columns=ATYPICAL_COLUMNS)
    return ("\n\n".join(lines), frame,
            dendrogram_html(metrics["taxonomy"], vibes, basis_text(metrics, "taxonomy")))


def dendrogram_html(tax: Mapping[str, Any], vibes: Sequence[Mapping[str, Any]],
                    basis: str = "") -> str:
    """The Ward tree's top (truncated dendrogram) with leaves coloured by their main vibe;
    ``basis`` says which tracks the tree holds ("exact on n" / "sampled m of N ...")."""
    tree = tax["dendrogram"]
    names = {v["vibe_id"]: v["name"] for v in vibes}
    colors = [charts.vibe_color(v) for v in tree["leaf_vibe"]]
    labels = [f"{int(n):,}" for n in tree["leaf_sizes"]]
    legend = " ".join(f'<span style="color:{charts.vibe_color(v)}">■ {escape(n)}</span>'
                      for v, n in sorted(names.items()))
    mixed = [sh for sh in tree["leaf_vibe_share"] if num(sh) < 0.9]
    legend += (f" · {len(mixed)} of {len(labels)} leaves mix vibes (main vibe under 90%)"
               if mixed else " · every leaf is at least 90% one vibe")
    n_clusters = tax["n_clusters"]
    cut = _cut_height(tree["dcoord"], n_clusters)
    svg = cluster_plots.dendrogram_svg(tree["icoord"], tree["dcoord"], labels,
                                       leaf_colors=colors, cut_height=cut,
                                       cut_label=f"cut into {n_clusters} clusters" if cut else "")
    facts = [f"Adjusted Rand index between the Ward cut at {n_clusters} and the K-Means "
             f"vibes: <b>{num(tax['ari_vs_kmeans']):.3f}</b> (1 = the same partition).",
             f"Cophenetic correlation {num(tax['cophenetic_correlation']):.3f} on a sample of "
             f"{int(tax['cophenetic_sample_size']):,} tracks."]
    key = (f"Top of the Ward tree ({escape(basis or 'all tracks')}); each leaf is a branch, "
           "labelled with its number of tracks and coloured by its main vibe: " + legend)
    return (svg + f"<p><small>{key}</small></p>"
            + "".join(f"<p>{f}</p>" for f in facts))


def _cut_height(dcoord: Sequence[Sequence[float]], n_clusters: int) -> float | None:
    """A height between the merges that leave ``n_clusters`` and ``n_clusters - 1`` groups."""
    heights = sorted((float(d[1]) for d in dcoord), reverse=True)
    if n_clusters < 2 or len(heights) < n_clusters - 1:
        return None
    upper = heights[n_clusters - 2]
    lower = heights[n_clusters - 1] if len(heights) >= n_clusters else 0.0
    return (upper + lower) / 2

"""The read-only analysis tabs (vibes, validation, genres, outliers & taxonomy): plain
functions of (client) -> outputs, like :mod:`vibemap.ui.handlers`, over GET /v1/vibes and
GET /v1/validation (metrics.json). The only request that computes anything is the live
K-loop, which the API runs on a sample.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

from vibemap.ui import charts
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import (
    Client,
    as_track,
    error_md,
    features_of,
    fmt_unit,
    genres_text,
    info_md,
    items,
    num,
    section,
    vibe_list,
)

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]


# -- tab 3: vibes -----------------------------------------------------------------------------
TYPICAL_TRACKS = 3


def vibes_view(client: Client) -> tuple[str, str, str]:
    """(cards HTML, z-score heatmap HTML, status)."""
    try:
        vibes = vibe_list(client.vibes())
        features = features_of(client.artifact())
        details = [_vibe_detail(client, v) for v in vibes]
    except ApiError as err:
        return "", "", error_md(err)
    if not details:
        return "", "", info_md("No vibes in this artifact.")
    cards = "".join(_vibe_card(v) for v in details)
    heat = _profile_heatmap(details, features)
    return f'<div class="vm-cards">{cards}</div>', heat, f"{len(details)} musical personalities."


def _vibe_detail(client: Client, v: Mapping[str, Any]) -> dict:
    """The /v1/vibes entry merged with /v1/vibes/{id}, plus typical tracks."""
    detail = dict(v)
    try:
        body = client.vibe(v.get("vibe_id"))
        detail.update(body.get("vibe") if isinstance(body.get("vibe"), Mapping) else body)
    except ApiError as err:
        if err.status != 404 and not err.route_missing:
            raise
    if not (detail.get("typical_tracks") or detail.get("examples")):
        detail["typical_tracks"] = typical_tracks(client, detail)
    return detail


def typical_tracks(client: Client, vibe: Mapping[str, Any], limit: int = TYPICAL_TRACKS
                   ) -> list[dict]:
    """The tracks of a vibe nearest its centroid: a recommendation whose targets are the
    centroid (original units), restricted to that vibe. [] when the API cannot say."""
    centroid = vibe.get("centroid")
    if not isinstance(centroid, Mapping) or not centroid:
        return []
    request = {f"target_{f}": float(x) for f, x in centroid.items()}
    request.update({"vibe": str(vibe.get("vibe_id")), "limit": limit, "max_per_artist": 1})
    try:
        return [as_track(r) for r in items(client.recommend(request))]
    except ApiError:
        return []


def _vibe_card(v: Mapping[str, Any]) -> str:
    vid = int(v.get("vibe_id", 0))
    name = escape(str(v.get("name", v.get("vibe_name", "?"))))
    size, share = v.get("size"), num(v.get("share"))
    meta = " · ".join(p for p in (
        f"{int(size):,} tracks" if size is not None else "",
        f"{share:.1%} of the catalogue" if math.isfinite(share) else "") if p)
    sig = escape(str(v.get("signature") or ""))
    genre_bits = []
    for g in (v.get("top_genres") or [])[:5]:
        if not isinstance(g, Mapping):
            genre_bits.append(escape(str(g)))
            continue
        pct = g.get("share")
        if pct is None and g.get("count") is not None and size:
            pct = num(g["count"]) / float(size)
        pct_text = f" ({num(pct):.0%})" if pct is not None else ""
        genre_bits.append(escape(str(g.get("genre"))) + pct_text)
    typical = v.get("typical_tracks") or v.get("examples") or []
    listed = "".join(
        f"<li>{escape(str(t.get('name', '?')))} — {escape(str(t.get('artist', '?')))}</li>"
        if isinstance(t, Mapping) else f"<li>{escape(str(t))}</li>" for t in typical[:5])
    return (f'<div class="vm-card" style="--vm-c:{charts.vibe_color(vid)}"><h3>{name}</h3>'
            f'<div class="vm-meta">vibe #{vid} · {meta}</div>'
            + (f'<div class="vm-sig">{sig}</div>' if sig else "")
            + (f"<div><b>Top genres:</b> {', '.join(genre_bits)}</div>" if genre_bits else "")
            + (f"<div><b>Typical tracks:</b><ul>{listed}</ul></div>" if listed else "")
            + "</div>")


def _profile_heatmap(vibes: Sequence[Mapping[str, Any]], features: Sequence[str]) -> str:
    rows, labels, titles = [], [], []
    for v in vibes:
        z = v.get("centroid_z") or v.get("profile_z")
        if isinstance(z, Mapping):
            z = [z.get(f) for f in features]
        if not z:
            continue
        orig = v.get("centroid") if isinstance(v.get("centroid"), Mapping) else {}
        rows.append([num(x) for x in z])
        labels.append(str(v.get("name", v.get("vibe_id"))))
        titles.append([f"{labels[-1]} · {f}: z = {num(x):+.2f}"
                       + (f", mean {fmt_unit(f, orig[f], '')}" if f in orig else "")
                       for f, x in zip(features, z, strict=False)])
    if not rows:
        return info_md("The API gives no vibe profiles (centroid_z) to draw.")
    return charts.heatmap_html(labels, list(features), rows, diverge=True, cell_titles=titles,
                               caption="Centroid of each vibe in z-scores of the catalogue "
                                       "(0 = average track; red above, blue below).")


# -- tab 4: validation ------------------------------------------------------------------------
KLOOP_COLUMNS = ["K", "inertia", "silhouette", "davies_bouldin", "calinski_harabasz"]
METRIC_TITLES = {"inertia": "Inertia (lower = tighter vibes)",
                 "silhouette": "Silhouette, exact (higher is better)",
                 "davies_bouldin": "Davies-Bouldin (lower is better)",
                 "calinski_harabasz": "Calinski-Harabasz (higher is better)"}
CHOSEN_COLOR, ELBOW_COLOR, BEST_COLOR = "#e15759", "#59a14f", "#b07aa1"
BEST_KEYS = {"silhouette": "best_silhouette_k", "davies_bouldin": "best_davies_bouldin_k",
             "calinski_harabasz": "best_calinski_harabasz_k"}
NOT_EVALUATED = ("This artifact was built with `--no-eval`: it carries no validation results. "
                 "Rebuild it without that flag, or use “Re-run live” below for a K-loop on a "
                 "sample.")


def _not_evaluated(metrics: Mapping[str, Any]) -> bool:
    return not metrics or metrics.get("evaluated") is False


def kloop_table(kloop: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The K-loop (``k_loop.metrics`` of metrics.json) as a frame: K and the four metrics."""
    rows = kloop
    if isinstance(kloop, Mapping):
        rows = kloop.get("metrics") or kloop.get("rows") or []
    out = []
    for r in rows:
        k = r.get("n_clusters", r.get("k", r.get("K")))
        out.append({"K": int(k), **{m: num(r.get(m)) for m in KLOOP_COLUMNS[1:]}})
    return pd.DataFrame(out, columns=KLOOP_COLUMNS).sort_values("K").reset_index(drop=True)


def kloop_charts(table: pd.DataFrame, loop: Mapping[str, Any], chosen: int | None) -> str:
    """Four small line charts (one per metric) with the chosen K, the elbow and each
    metric's preferred K marked, in a two-column grid."""
    ks = table["K"].tolist()
    cells = []
    for metric in KLOOP_COLUMNS[1:]:
        marks: list[tuple[int, str, str]] = []
        if chosen is not None:
            marks.append((int(chosen), f"chosen K = {chosen}", CHOSEN_COLOR))
        if metric == "inertia" and loop.get("elbow_k") is not None:
            marks.append((int(loop["elbow_k"]), f"elbow K = {loop['elbow_k']}", ELBOW_COLOR))
        best = loop.get(BEST_KEYS.get(metric, ""))
        if best is not None and best != chosen:
            marks.append((int(best), f"best K = {best}", BEST_COLOR))
        fmt = "{:,.0f}" if metric in ("inertia", "calinski_harabasz") else "{:.4f}"
        cells.append(charts.line_chart_svg(ks, table[metric].tolist(), title=METRIC_TITLES[metric],
                                           marks=marks, y_fmt=fmt))
    return '<div class="vm-grid2">' + "".join(f"<div>{c}</div>" for c in cells) + "</div>"


def validation_view(client: Client) -> tuple[str, str, str, pd.DataFrame]:
    """(summary markdown, K-loop charts HTML, silhouette plot HTML, K-loop table)."""
    empty = pd.DataFrame(columns=KLOOP_COLUMNS)
    try:
        metrics = client.validation()
        names = _vibe_names(client)
    except ApiError as err:
        return error_md(err), "", "", empty
    if _not_evaluated(metrics):
        return info_md(NOT_EVALUATED), "", "", empty
    loop = section(metrics, "k_loop", "kloop")
    table = kloop_table(loop)
    choice = section(metrics, "chosen_k")
    chosen = choice.get("k", metrics.get("n_clusters"))
    lines = []
    if choice.get("reason"):
        lines.append(f"**Chosen K = {chosen}.** {escape(str(choice['reason']))}")
    elif chosen is not None:
        lines.append(f"**Chosen K = {chosen}.**")
    n = loop.get("n_samples") or metrics.get("n_tracks")
    if n:
        lines.append(f"Every metric is computed on all {int(n):,} tracks (the silhouette is "
                     "exact, not sampled).")
    if not len(table):
        lines.append(info_md("No K-loop in these validation results."))
    return ("\n\n".join(lines), kloop_charts(table, loop, chosen) if len(table) else "",
            silhouette_plot(metrics, names), _rounded(table))


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    return table.round({"inertia": 1, "silhouette": 4, "davies_bouldin": 4,
                        "calinski_harabasz": 1})


def _vibe_names(client: Client) -> dict[int, str]:
    return {int(v.get("vibe_id")): str(v.get("name")) for v in vibe_list(client.vibes())}


def silhouette_plot(metrics: Mapping[str, Any], names: Mapping[int, str]) -> str:
    """The silhouette plot of the chosen K from ``silhouette.per_vibe[].quantiles``."""
    sil = section(metrics, "silhouette")
    groups = []
    for p in sil.get("per_vibe") or []:
        if not isinstance(p, Mapping) or not p.get("quantiles"):
            continue
        vid = int(p.get("vibe_id", 0))
        groups.append((names.get(vid, f"vibe {vid}"), charts.vibe_color(vid),
                       [num(q) for q in p["quantiles"]], int(p.get("size", 0)),
                       num(p.get("mean"))))
    if not groups:
        return ""
    svg = ("<h3>Silhouette plot of the chosen K</h3>"
           + charts.silhouette_svg(groups, overall=num(sil.get("mean"))))
    negatives = [f"{escape(names.get(int(p['vibe_id']), str(p['vibe_id'])))} "
                 f"{num(p.get('negative_share')):.1%}"
                 for p in sil.get("per_vibe") or [] if num(p.get("negative_share"), 0.0) > 0]
    note = ("Tracks with a negative silhouette (closer to another vibe than to their own): "
            + ", ".join(negatives) + "." if negatives else
            "No track has a negative silhouette.")
    return svg + f"<p><small>{note}</small></p>"


def rerun_live(client: Client, sample_size: int, progress: ProgressFn | None = None
               ) -> tuple[str, str, pd.DataFrame]:
    """Ask the API to run the K-loop now on a seeded sample, one request per K so the page
    can show progress. Returns (summary markdown, charts HTML, table)."""
    ks = list(range(2, 11))
    frames = []
    used = int(sample_size)
    empty = pd.DataFrame(columns=KLOOP_COLUMNS)
    try:
        chosen = client.artifact().get("n_clusters")
        for i, k in enumerate(ks):
            if progress:
                progress(i / len(ks), f"K = {k} ({i + 1} of {len(ks)})")
            body = client.kloop_live(sample_size=int(sample_size), k_values=[k])
            frames.append(kloop_table(section(body, "k_loop", "kloop") or body))
            used = int(body.get("sample_size") or sample_size)
    except ApiError as err:
        msg = ("This API cannot run the K-loop live yet (it needs POST /v1/validation/kloop)."
               if err.route_missing else err.message)
        return error_md(msg), "", empty
    if progress:
        progress(1.0, "done")
    table = pd.concat(frames, ignore_index=True).sort_values("K").reset_index(drop=True)
    loop: dict[str, Any] = {"elbow_k": elbow_k(table["K"].tolist(), table["inertia"].tolist())}
    for metric, key in BEST_KEYS.items():
        col = table[metric]
        if col.notna().any():
            best = col.idxmin() if metric == "davies_bouldin" else col.idxmax()
            loop[key] = int(table.loc[best, "K"])
    names = {"elbow_k": "the elbow of the inertia", "best_silhouette_k": "the silhouette",
             "best_davies_bouldin_k": "Davies-Bouldin",
             "best_calinski_harabasz_k": "Calinski-Harabasz"}
    prefs = "; ".join(f"{names[k]} prefers K = {v}" for k, v in loop.items() if v is not None)
    summary = (f"**Live K-loop** on a seeded sample of {used:,} tracks: the API fitted K-Means++ "
               f"for each K just now (the served artifact is unchanged). {prefs}.")
    return summary, kloop_charts(table, loop, chosen), _rounded(table)


def elbow_k(ks: Sequence[int], inertia: Sequence[float]) -> int | None:
    """The K whose min-max scaled inertia lies farthest below the chord from the first to
    the last K (the method metrics.json names as ``elbow_method``); None if no point is."""
    pts = [(k, v) for k, v in zip(ks, inertia, strict=True) if v is not None and math.isfinite(v)]
    if len(pts) < 3:
        return None
    (k0, v0), (k1, v1) = pts[0], pts[-1]
    if k1 == k0 or not v0 > v1:
        return None
    best, best_gap = None, 0.0
    for k, v in pts[1:-1]:
        x, y = (k - k0) / (k1 - k0), (v - v1) / (v0 - v1)
        gap = (1 - x) - y  # the chord runs from (0, 1) to (1, 0)
        if gap > best_gap:
            best, best_gap = k, gap
    return best


# -- tab 5: genres ----------------------------------------------------------------------------
def genres_view(client: Client, top: int = 20) -> tuple[str, str]:
    """(genre x vibe heatmap HTML, purity/NMI markdown)."""
    try:
        metrics = client.validation()
        names = {int(v.get("vibe_id")): str(v.get("name")) for v in vibe_list(client.vibes())}
    except ApiError as err:
        return "", error_md(err)
    if _not_evaluated(metrics):
        return "", info_md(NOT_EVALUATED)
    gmap = section(metrics, "genres", "genre_map", "genre_vibe", "genre_vibe_map")
    genres = [str(g) for g in gmap.get("genres") or []]
    counts = gmap.get("counts") or []
    if not genres or len(counts) != len(genres):
        return "", info_md("No genre labels in this catalogue, so no genre × vibe map.")
    vibe_ids = [int(v) for v in gmap.get("vibe_ids") or sorted(names)]
    per = {str(p.get("genre")): p for p in gmap.get("per_genre") or [] if isinstance(p, Mapping)}
    labels, rows, titles = [], [], []
    for genre, row in list(zip(genres, counts, strict=True))[:top]:
        total = sum(row) or 1
        shares = [c / total for c in row]
        purity = per.get(genre, {}).get("purity")
        pure = f" · purity {purity:.0%}" if purity is not None else ""
        labels.append(f"{genre} ({total:,}){pure}")
        rows.append(shares)
        titles.append([f"{genre} → {names.get(v, v)}: {c:,} of {total:,} tracks ({sh:.0%})"
                       for v, c, sh in zip(vibe_ids, row, shares, strict=True)])
    cols = [names.get(v, f"vibe {v}") for v in vibe_ids]
    html = charts.heatmap_html(
        labels, cols, rows, diverge=False, fmt="{:.0%}", cell_titles=titles, vmax=1.0,
        caption=f"Where each genre's tracks fall: share per vibe (rows sum to 100%). The "
                f"{min(top, len(genres))} genres with most tracks of {len(genres)} with at least "
                f"{gmap.get('min_tracks', '?')} tracks; purity = share in its main vibe.")
    lines = []
    cmp_ = gmap.get("primary_genre_vs_vibe") or {}
    nmi = cmp_.get("nmi", gmap.get("nmi", metrics.get("nmi")))
    if nmi is not None:
        lines.append(f"**NMI(primary genre, vibe) = {num(nmi):.3f}**"
                     + (f" · ARI = {num(cmp_['ari']):.3f}" if cmp_.get("ari") is not None else "")
                     + " — 0: the vibes ignore genre; 1: each vibe is exactly a set of genres.")
    purities = [(num(p.get("purity")), num(p.get("tracks"), 0.0)) for p in per.values()]
    if purities:
        weighted = sum(pu * n for pu, n in purities) / (sum(n for _, n in purities) or 1)
        lines.append(f"**Mean genre purity = {weighted:.1%}** (weighted by tracks): on average, "
                     "that share of a genre's tracks sits in the genre's main vibe.")
    if gmap.get("n_tracks") and gmap.get("n_tracks_with_genre") is not None:
        lines.append(f"{int(gmap['n_tracks_with_genre']):,} of {int(gmap['n_tracks']):,} tracks "
                     "carry a genre label.")
    return html, "\n\n".join(lines) or info_md("No purity or NMI in the validation results.")


# -- tab 6: outliers & taxonomy ---------------------------------------------------------------
ATYPICAL_COLUMNS = ["title", "artist", "vibe", "genres", "k-distance"]


def outliers_view(client: Client) -> tuple[str, pd.DataFrame, str]:
    """(DBSCAN summary md, most atypical tracks, Ward dendrogram HTML)."""
    empty = pd.DataFrame(columns=ATYPICAL_COLUMNS)
    try:
        metrics = client.validation()
        vibes = vibe_list(client.vibes())
    except ApiError as err:
        return error_md(err), empty, ""
    if _not_evaluated(metrics):
        return info_md(NOT_EVALUATED), empty, ""
    out = section(metrics, "outliers", "dbscan")
    lines = []
    if out:
        share = num(out.get("outlier_share"))
        lines.append(f"**{int(out.get('n_outliers', 0)):,} outliers — {share:.2%} of "
                     f"{int(out.get('n_tracks', 0)):,} tracks.** DBSCAN leaves them as noise: "
                     f"fewer than {out.get('min_samples')} tracks lie within "
                     f"eps = {num(out.get('eps')):.3g} of them in z-score space.")
        if out.get("n_clusters") is not None:
            sizes = out.get("cluster_sizes") or [0]
            lines.append(f"DBSCAN itself finds {out['n_clusters']} dense region(s); the largest "
                         f"holds {int(sizes[0]):,} tracks.")
        if out.get("rule"):
            lines.append(f"<small>How eps was chosen: {escape(str(out['rule']))}</small>")
    else:
        lines.append(info_md("No DBSCAN outlier results in this artifact."))
    atypical = out.get("most_atypical") or []
    try:  # the same list with each track's title, artist and vibe
        atypical = client.outliers(limit=20).get("tracks") or atypical
    except ApiError as err:
        if not err.route_missing:
            lines.append(error_md(err))
    rows = []
    for item in atypical:
        t = as_track(item)
        rows.append({"title": t.get("name") or f"row {t.get('row')}", "artist": t.get("artist"),
                     "vibe": t.get("vibe_name"), "genres": genres_text(t.get("genres")),
                     "k-distance": round(num(t.get("k_distance")), 3)})
    frame = pd.DataFrame(rows, columns=ATYPICAL_COLUMNS)
    if len(frame) and frame["artist"].isna().all():
        frame = frame[["title", "k-distance"]].rename(columns={"title": "track"})
        lines.append("<small>Catalogue rows only: this API does not offer GET "
                     "/v1/validation/outliers (the same list with titles and artists).</small>")
    return "\n\n".join(lines), frame, dendrogram_html(metrics, vibes)


def dendrogram_html(metrics: Mapping[str, Any], vibes: Sequence[Mapping[str, Any]]) -> str:
    """The Ward tree's top (truncated dendrogram) with leaves coloured by their main vibe."""
    tax = section(metrics, "taxonomy", "ward")
    tree = tax.get("dendrogram") if isinstance(tax.get("dendrogram"), Mapping) else tax
    if not tree:
        return info_md("No Ward taxonomy in this artifact.")
    names = {int(v.get("vibe_id")): str(v.get("name")) for v in vibes}
    icoord, dcoord = tree.get("icoord"), tree.get("dcoord")
    labels = [str(x) for x in tree.get("ivl") or tree.get("labels") or []]
    if not (icoord and dcoord):
        linkage = tree.get("linkage")
        if not linkage:
            return info_md("The Ward taxonomy has no tree to draw.")
        icoord, dcoord, order = charts.dendrogram_coords(linkage)
        labels = [labels[i] if i < len(labels) else str(i) for i in order]
    sizes = tree.get("leaf_sizes") or []
    leaf_vibe = tree.get("leaf_vibe") or []
    leaf_share = tree.get("leaf_vibe_share") or []
    colors = None
    legend = ""
    if len(leaf_vibe) == len(labels):
        colors = [charts.vibe_color(int(v)) for v in leaf_vibe]
        labels = [f"{int(sizes[i]):,}" if i < len(sizes) else labels[i]
                  for i in range(len(leaf_vibe))]
        legend = " ".join(f'<span style="color:{charts.vibe_color(v)}">■ {escape(n)}</span>'
                          for v, n in sorted(names.items()))
        mixed = [i for i, sh in enumerate(leaf_share) if num(sh) < 0.9]
        legend += (f" · {len(mixed)} of {len(labels)} leaves mix vibes (main vibe under 90%)"
                   if mixed else " · every leaf is at least 90% one vibe")
    n_clusters = tax.get("n_clusters") or len(vibes)
    cut = _cut_height(dcoord, int(n_clusters)) if n_clusters else None
    svg = charts.dendrogram_svg(icoord, dcoord, labels, leaf_colors=colors, cut_height=cut,
                                cut_label=f"cut into {n_clusters} clusters" if cut else "")
    facts = []
    if tax.get("ari_vs_kmeans") is not None:
        facts.append(f"Adjusted Rand index between the Ward cut at {n_clusters} and the K-Means "
                     f"vibes: <b>{num(tax['ari_vs_kmeans']):.3f}</b> (1 = the same partition).")
    if tax.get("cophenetic_correlation") is not None:
        facts.append(f"Cophenetic correlation {num(tax['cophenetic_correlation']):.3f} on a "
                     f"sample of {int(tax.get('cophenetic_sample_size', 0)):,} tracks.")
    key = ("Top of the Ward tree of all tracks; each leaf is a branch, labelled with its "
           "number of tracks and coloured by its main vibe: " + legend)
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

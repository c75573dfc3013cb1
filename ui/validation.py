"""The validation tab: the K-loop (four metrics per K, the chosen K, the elbow and each
metric's best K) and the silhouette plot, from GET /v1/validation (metrics.json), and the
live K-loop that the API runs on a sample (POST /v1/validation/kloop). Plain functions of
(client) -> outputs, like :mod:`vibemap.ui.handlers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

import pandas as pd

from vibemap.ui import charts, cluster_plots
from vibemap.ui.client import ApiError
from vibemap.ui.shapes import Client, basis_of, basis_text, error_md, info_md, num

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

KLOOP_COLUMNS = ["K", "inertia", "silhouette", "davies_bouldin", "calinski_harabasz"]
METRIC_TITLES = {"inertia": "Inertia (lower = tighter vibes)",
                 "silhouette": "Silhouette, exact (higher is better)",
                 "davies_bouldin": "Davies-Bouldin (lower is better)",
                 "calinski_harabasz": "Calinski-Harabasz (higher is better)"}
CHOSEN_COLOR, ELBOW_COLOR, BEST_COLOR = "#e15759", "#59a14f", "#b07aa1"
BEST_KEYS = {"silhouette": "best_silhouette_k", "davies_bouldin": "best_davies_bouldin_k",
             "calinski_harabasz": "best_calinski_harabasz_k"}
PREFERENCES = {"elbow_k": "the elbow of the inertia", "best_silhouette_k": "the silhouette",
               "best_davies_bouldin_k": "Davies-Bouldin",
               "best_calinski_harabasz_k": "Calinski-Harabasz"}
LIVE_K_MIN, LIVE_K_MAX = 2, 10
NOT_EVALUATED = ("This artifact was built with `--no-eval`: it carries no validation results. "
                 "Rebuild it without that flag, or use “Re-run live” below for a K-loop on a "
                 "sample.")


def not_evaluated(metrics: Mapping[str, Any]) -> bool:
    """True for the answer of an artifact built with --no-eval ({"evaluated": false})."""
    return not metrics.get("evaluated")


def kloop_table(kloop: Mapping[str, Any]) -> pd.DataFrame:
    """A K-loop (``k_loop`` of metrics.json or of the live answer) as a frame: K and the
    four metrics."""
    out = [{"K": int(r["n_clusters"]), **{m: num(r[m]) for m in KLOOP_COLUMNS[1:]}}
           for r in kloop["metrics"]]
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
        if metric == "inertia" and loop["elbow_k"] is not None:
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
        names = {v["vibe_id"]: v["name"] for v in client.vibes()["vibes"]}
    except ApiError as err:
        return error_md(err), "", "", empty
    if not_evaluated(metrics):
        return info_md(NOT_EVALUATED), "", "", empty
    loop = metrics["k_loop"]
    table = kloop_table(loop)
    choice = metrics["chosen_k"]
    chosen = choice["k"]
    lines = [f"**Chosen K = {chosen}.** {escape(str(choice['reason']))}",
             *basis_lines(metrics)]
    return ("\n\n".join(lines), kloop_charts(table, loop, chosen),
            silhouette_plot(metrics, names), _rounded(table))


def basis_lines(metrics: Mapping[str, Any]) -> list[str]:
    """What the K-loop's figures rest on: K-Means and its indices on every track; the
    silhouette exact, or sampled with each K's 95% interval and whether the best K is told
    apart from the others."""
    n = int(metrics["k_loop"]["n_samples"])
    sil = basis_of(metrics, "k_loop.silhouette")
    if sil.get("method") != "sampled":
        return [f"Every metric is computed on all {n:,} tracks (the silhouette is exact, not "
                "sampled)."]
    per_k = ", ".join(f"K={r['n_clusters']} {num(r['mean']):.4f} ±{num(r['ci95']):.4f}"
                      for r in sil.get("per_k", []))
    return [f"Inertia, Davies-Bouldin and Calinski-Harabasz: "
            f"{escape(basis_text(metrics, 'k_loop.inertia'))}. **Silhouette: "
            f"{escape(str(sil['label']))}** — {per_k}.",
            escape(f"On that sample, {sil.get('separation', '')}.")]


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    return table.round({"inertia": 1, "silhouette": 4, "davies_bouldin": 4,
                        "calinski_harabasz": 1})


def silhouette_plot(metrics: Mapping[str, Any], names: Mapping[int, str]) -> str:
    """The silhouette plot of the chosen K from ``silhouette.per_vibe[].quantiles``."""
    sil = metrics["silhouette"]
    groups = [(names.get(p["vibe_id"], f"vibe {p['vibe_id']}"), charts.vibe_color(p["vibe_id"]),
               [num(q) for q in p["quantiles"]], int(p["size"]), num(p["mean"]))
              for p in sil["per_vibe"] if p["quantiles"]]
    if not groups:
        return ""
    svg = (f"<h3>Silhouette plot of the chosen K</h3><p><small>"
           f"{escape(basis_text(metrics, 'silhouette'))}</small></p>"
           + cluster_plots.silhouette_svg(groups, overall=num(sil["mean"])))
    negatives = [f"{escape(names.get(p['vibe_id'], str(p['vibe_id'])))} "
                 f"{num(p['negative_share']):.1%}"
                 for p in sil["per_vibe"] if num(p["negative_share"], 0.0) > 0]
    note = ("Tracks with a negative silhouette (closer to another vibe than to their own): "
            + ", ".join(negatives) + "." if negatives else
            "No track has a negative silhouette.")
    return svg + f"<p><small>{note}</small></p>"


def rerun_live(client: Client, sample_size: int, progress: ProgressFn | None = None
               ) -> tuple[str, str, pd.DataFrame]:
    """Ask the API to run the K-loop now (K = 2..10) on a seeded sample; the answer names
    the elbow and each metric's best K. Returns (summary markdown, charts HTML, table)."""
    if progress:
        progress(0.0, f"the API fits K = {LIVE_K_MIN}..{LIVE_K_MAX} on {int(sample_size):,} "
                      "tracks")
    try:
        chosen = client.artifact()["n_clusters"]
        body = client.kloop_live(sample_size=int(sample_size), k_min=LIVE_K_MIN,
                                 k_max=LIVE_K_MAX)
    except ApiError as err:
        return error_md(err), "", pd.DataFrame(columns=KLOOP_COLUMNS)
    if progress:
        progress(1.0, "done")
    loop = body["k_loop"]
    table = kloop_table(loop)
    prefs = "; ".join(f"{what} prefers K = {loop[key]}" for key, what in PREFERENCES.items()
                      if loop[key] is not None)
    summary = (f"**Live K-loop** on a seeded sample of {body['sample_size']:,} tracks: the API "
               f"fitted K-Means++ for each K just now (the served artifact is unchanged). "
               f"{prefs}.")
    return summary, kloop_charts(table, loop, chosen), _rounded(table)

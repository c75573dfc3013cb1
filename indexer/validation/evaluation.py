"""Compose the validation analyses of a build into metrics.json (+ per-track arrays).

Each analysis is a pure function in its own module; this module only decides what
runs on which inputs and how the results are laid out. The layout is the documented
metrics.json schema (see METRICS_SCHEMA and the README).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vibemap.indexer.features import FEATURES
from vibemap.indexer.genre_labels import genre_lists
from vibemap.indexer.validation.genres import genre_vibe_map, neighbour_genre_agreement
from vibemap.indexer.validation.kloop import DEFAULT_K_VALUES, choose_k, run_k_loop
from vibemap.indexer.validation.outliers import find_outliers
from vibemap.indexer.validation.profiles import profile_vibes
from vibemap.indexer.validation.projection import pca_projection
from vibemap.indexer.validation.taxonomy import ward_taxonomy

logger = logging.getLogger(__name__)

METRICS_SCHEMA_VERSION = 1

# Silhouette-plot data: per vibe, this many quantiles of the sorted per-track silhouettes.
SILHOUETTE_PLOT_POINTS = 100


@dataclass(frozen=True)
class Evaluation:
    """metrics.json content plus per-track arrays for analysis.npz (row i = track row i)."""

    metrics: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def silhouette_summary(samples: np.ndarray, labels: np.ndarray, n_clusters: int) -> dict:
    """Mean and distribution of per-track silhouettes per vibe, and plot-ready quantiles.

    samples : float array (n,) of per-track silhouettes; labels : int array (n,).
    """
    qs = np.linspace(0, 1, SILHOUETTE_PLOT_POINTS)
    per_vibe = []
    for v in range(n_clusters):
        s = samples[labels == v]
        if s.size == 0:
            per_vibe.append({"vibe_id": v, "size": 0})
            continue
        per_vibe.append(
            {
                "vibe_id": v,
                "size": int(s.size),
                "mean": round(float(s.mean()), 5),
                "median": round(float(np.median(s)), 5),
                "q10": round(float(np.quantile(s, 0.1)), 5),
                "q90": round(float(np.quantile(s, 0.9)), 5),
                "negative_share": round(float((s < 0).mean()), 5),
                "quantiles": [round(float(x), 4) for x in np.quantile(s, qs)[::-1]],
            }
        )
    return {
        "mean": round(float(samples.mean()), 6),
        "per_vibe": per_vibe,
        "plot": f"per vibe, {SILHOUETTE_PLOT_POINTS} quantiles of the silhouettes, high to low",
    }


def evaluate_build(
    Z: np.ndarray,
    labels: np.ndarray,
    tracks: pd.DataFrame,
    n_clusters: int,
    seed: int = 0,
    n_init: int = 10,
    k_values=DEFAULT_K_VALUES,
    progress: Callable[[str, float], None] | None = None,
    served: np.ndarray | None = None,
    era_weight: float = 0.0,
) -> Evaluation:
    """Run every analysis on the build's z-scores and labels.

    Z : float32 (n, d) z-scores, rows in tracks-table order; labels : int (n,) vibe ids.
    served : the index vectors when they differ from Z (an era column, weight
        ``era_weight``): genre agreement is then measured on them too, since they, not the
        nine features, decide who is near in every answer.
    """
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        start = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - start, 3)
        logger.info("evaluate %s: %.2f s", name, timings[name])
        if progress:
            progress(f"  {name}", timings[name])
        return out

    n = len(Z)
    ks = tuple(k for k in k_values if 2 <= k <= n - 1)
    metrics: dict = {
        "evaluated": True,
        "schema_version": METRICS_SCHEMA_VERSION,
        "n_tracks": n,
        "n_clusters": n_clusters,
        "features": list(FEATURES),
    }
    arrays: dict[str, np.ndarray] = {}

    if ks:
        loop = timed(
            "k_loop", lambda: run_k_loop(Z, ks, seed=seed, n_init=n_init, extra_labelings=[labels])
        )
        metrics["k_loop"] = loop.to_dict()
        k, reason = choose_k(loop, n_clusters) if n_clusters >= 2 else (n_clusters, "")
        metrics["chosen_k"] = {"k": k, "reason": reason}
        sil = loop.extra_silhouettes[0]
        metrics["silhouette"] = silhouette_summary(sil, labels, n_clusters)
        arrays["silhouette"] = sil.astype(np.float32)

    out = timed("outliers", lambda: find_outliers(Z, seed=seed))
    metrics["outliers"] = out.to_dict()
    arrays["outlier"] = out.is_outlier.astype(bool)
    arrays["k_distance"] = out.k_distance.astype(np.float32)

    if n_clusters >= 2 and n >= 3:
        tax = timed("ward", lambda: ward_taxonomy(Z, labels, n_clusters=n_clusters, seed=seed))
        metrics["taxonomy"] = tax.to_dict()

    proj = timed("pca", lambda: pca_projection(Z, labels, FEATURES, seed=seed))
    pca = proj.to_dict()
    pca.pop("sample")
    pca["sample_size"] = int(proj.rows.size)
    metrics["pca"] = pca
    arrays["pca_rows"] = proj.rows.astype(np.int64)
    arrays["pca_coords"] = proj.coords.astype(np.float32)

    prof = timed("profiles", lambda: profile_vibes(Z, tracks, labels, FEATURES))
    metrics["profiles"] = prof.to_dict()

    genres = genre_lists(tracks["genres"].tolist())
    if any(genres):
        gmap = timed("genres", lambda: genre_vibe_map(genres, labels))
        metrics["genres"] = gmap.to_dict()
        agree = timed("genre_agreement", lambda: neighbour_genre_agreement(Z, genres, seed=seed))
        metrics["genre_agreement"] = agree.to_dict()
        if served is not None:
            on_index = timed("genre_agreement_served",
                             lambda: neighbour_genre_agreement(served, genres, seed=seed))
            metrics["genre_agreement_served"] = {**on_index.to_dict(), "era_weight": era_weight}
    else:
        metrics["genres"] = None
        metrics["genre_agreement"] = None
    metrics["timings_s"] = timings
    return Evaluation(metrics=metrics, arrays=arrays)

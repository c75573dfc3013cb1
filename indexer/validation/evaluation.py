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
from vibemap.indexer.genre_labels import encode_genres
from vibemap.indexer.stages import Tick
from vibemap.indexer.validation import basis
from vibemap.indexer.validation.genre_agreement import neighbour_genre_agreement
from vibemap.indexer.validation.genres import genre_vibe_map
from vibemap.indexer.validation.kfits import FIT_SAMPLE_PER_BUDGET
from vibemap.indexer.validation.kloop import DEFAULT_K_VALUES, choose_k, run_k_loop
from vibemap.indexer.validation.outliers import find_outliers
from vibemap.indexer.validation.profiles import profile_vibes
from vibemap.indexer.validation.projection import pca_projection, stratified_sample
from vibemap.indexer.validation.taxonomy import ward_taxonomy

logger = logging.getLogger(__name__)

METRICS_SCHEMA_VERSION = 1

WARD_SAMPLE_SIZE = 30_000
"""Tracks in the stratified Ward sample above the exact budget: Ward is O(n^2) in time;
30k tracks take ~10 s on a quiet machine (bench/RESULTS.md)."""


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
    exact_max_tracks: int | None = None,
    tick: Tick | None = None,
) -> Evaluation:
    """Run every analysis on the build's z-scores and labels.

    Z : float32 (n, d) z-scores, rows in tracks-table order; labels : int (n,) vibe ids.
    served : the index vectors when they differ from Z (an era column, weight
        ``era_weight``): genre agreement is then measured on them too, since they, not the
        nine features, decide who is near in every answer.
    exact_max_tracks : above this many tracks the O(n^2) analyses (silhouette, Ward) run on
        stratified samples with 95% confidence intervals; None = always exact (--exact).
        ``metrics["basis"]`` says, for each figure, which it was.
    tick : progress of the long steps (see ``Tick``).
    """
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        start = time.perf_counter()
        if tick:
            tick(name, 0, None)
        out = fn()
        if tick:
            tick(name, 1, 1)
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
    sample = exact_max_tracks is not None and n > exact_max_tracks
    figures: dict[str, dict] = {}
    metrics["basis"] = {"exact_max_tracks": exact_max_tracks, "sampled": sample,
                        "figures": figures}

    if ks:
        loop = timed("k_loop", lambda: run_k_loop(
            Z, ks, seed=seed, n_init=n_init, extra_labelings=[labels], tick=tick,
            sampler=_sampler(ks, seed, tick, exact_max_tracks) if sample else None,
            fit_sample=FIT_SAMPLE_PER_BUDGET * exact_max_tracks if sample else None))
        metrics["k_loop"] = loop.to_dict()
        k, reason = choose_k(loop, n_clusters) if n_clusters >= 2 else (n_clusters, "")
        metrics["chosen_k"] = {"k": k, "reason": reason}
        sil = loop.extra_silhouettes[0]
        figures.update(_k_loop_basis(loop, n))
        on = ~np.isnan(sil)
        metrics["silhouette"] = silhouette_summary(sil[on], labels[on], n_clusters)
        arrays["silhouette"] = sil.astype(np.float32)  # NaN off the sample
        if loop.sampled is not None:
            e = loop.sampled.estimates[-1]
            metrics["silhouette"]["mean"] = round(e.mean, 6)  # weighted: unbiased
            figures["silhouette"] = basis.sampled(loop.sampled.n_sample, n, e.ci95)
        else:
            figures["silhouette"] = basis.exact(n)

    metrics["outliers"], arrays["outlier"], arrays["k_distance"], figures["outliers"] = timed(
        "outliers", lambda: _outliers(Z, labels, exact_max_tracks if sample else None, seed,
                                      tick))

    if n_clusters >= 2 and n >= 3:
        ward_size = min(WARD_SAMPLE_SIZE, exact_max_tracks or n)
        rows = _stratified(labels, ward_size, seed) if sample and n > ward_size else None
        tax = timed("ward", lambda: ward_taxonomy(
            Z if rows is None else Z[rows], labels if rows is None else labels[rows],
            n_clusters=n_clusters, seed=seed))
        metrics["taxonomy"] = tax.to_dict()
        figures["taxonomy"] = basis.exact(n) if rows is None else basis.sampled(
            rows.size, n, tax.ari_ci95(labels[rows], seed=seed),
            note="stratified by vibe; CI of the ARI by bootstrap, tree fixed")

    proj = timed("pca", lambda: pca_projection(Z, labels, FEATURES, seed=seed))
    pca = proj.to_dict()
    pca.pop("sample")
    pca["sample_size"] = int(proj.rows.size)
    metrics["pca"] = pca
    figures["pca"] = basis.exact(n)
    arrays["pca_rows"] = proj.rows.astype(np.int64)
    arrays["pca_coords"] = proj.coords.astype(np.float32)

    prof = timed("profiles", lambda: profile_vibes(Z, tracks, labels, FEATURES))
    metrics["profiles"] = prof.to_dict()
    figures["profiles"] = basis.exact(n)

    genres = encode_genres(tracks["genres"])  # each distinct cell parsed once
    if genres.codes.size:
        gmap = timed("genres", lambda: genre_vibe_map(genres, labels))
        metrics["genres"] = gmap.to_dict()
        figures["genres"] = basis.exact(n)
        search = "kdtree" if sample else "flat"  # both exact (genre_agreement.NEIGHBOUR_SEARCH)
        agree = timed("genre_agreement", lambda: neighbour_genre_agreement(
            Z, genres, seed=seed, search=search))
        metrics["genre_agreement"] = agree.to_dict()
        figures["genre_agreement"] = (
            basis.exact(agree.n_candidates, "tracks with a genre")
            if agree.sample_size >= agree.n_candidates else basis.sampled(
                agree.sample_size, agree.n_candidates, None,
                what="tracks with a genre as queries", note="neighbours exact among all"
                + ("" if search == "flat" else ", by k-d tree")))
        if served is not None:
            on_index = timed("genre_agreement_served", lambda: neighbour_genre_agreement(
                served, genres, seed=seed, search=search))
            metrics["genre_agreement_served"] = {**on_index.to_dict(), "era_weight": era_weight}
    else:
        metrics["genres"] = None
        metrics["genre_agreement"] = None
    metrics["timings_s"] = timings
    return Evaluation(metrics=metrics, arrays=arrays)


def _sampler(ks: tuple[int, ...], seed: int, tick: Tick | None, budget: int):
    """The K-loop's silhouette estimator (see sampled_silhouette), reporting its tiles. The
    sample never outgrows the exact budget: a tiny budget (tests) gets tiny samples."""
    from vibemap.indexer.validation.sampled_silhouette import (
        SAMPLE_MAX,
        SAMPLE_START,
        estimate_silhouettes,
    )

    def run(X: np.ndarray, labelings: list[np.ndarray]):
        step = None if tick is None else (lambda done, total: tick("silhouette (sample)",
                                                                   done, total))
        return estimate_silhouettes(X, labelings, ks, seed=seed, progress=step,
                                    start=max(1, min(SAMPLE_START, budget // 4)),
                                    cap=min(SAMPLE_MAX, budget))
    return run


def _k_loop_basis(loop, n: int) -> dict[str, dict]:
    """Bases of the K-loop's figures: K-Means and its indices on all tracks (fitted on all,
    or on a sample with every track assigned); the silhouette exact, or sampled with one
    interval per K and the paired comparisons of the best K."""
    on_all = basis.exact(n) if loop.fit_sample is None else basis.sampled_fit(loop.fit_sample, n)
    out = {f"k_loop.{key}": dict(on_all)
           for key in ("inertia", "davies_bouldin", "calinski_harabasz")}
    est = loop.sampled
    if est is None:
        out["k_loop.silhouette"] = basis.exact(n)
        return out
    k_est = est.estimates[: len(loop.k_values)]
    entry = basis.sampled(est.n_sample, n, max(e.ci95 for e in k_est),
                          note="widest of the per-K intervals")
    entry["per_k"] = [{"n_clusters": k, "mean": round(e.mean, 6), "ci95": round(e.ci95, 6)}
                      for k, e in zip(loop.k_values, k_est, strict=True)]
    entry["comparisons"] = [c.to_dict() for c in est.comparisons]
    entry["sample_sizes_tried"] = list(est.rounds)
    best = loop.best_silhouette_k
    entry["separation"] = (
        f"K={best} is ahead of every other K beyond the 95% intervals of the paired "
        "differences" if not est.unresolved else
        f"the sample cannot tell K={best} apart from K="
        + ", K=".join(str(k) for k in est.unresolved)
        + f" (paired 95% intervals include 0 at {est.n_sample:,} tracks)")
    out["k_loop.silhouette"] = entry
    return out


def _outliers(Z: np.ndarray, labels: np.ndarray, sample_size: int | None, seed: int,
              tick: Tick | None) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """DBSCAN on all tracks, or above the budget on a sample stratified by vibe: its exact
    refinement of the IVF k-NN is O(n^2) (bench/RESULTS.md, "Validation budget"). Returns
    the summary, the per-track outlier flags and k-distances (False / NaN off the sample)
    and the basis; the outlier share is then weighted by vibe, with its 95% interval."""
    from vibemap.indexer.validation.sampled_silhouette import weighted_mean_ci95

    n = len(Z)
    rows = (np.arange(n) if sample_size is None or n <= sample_size
            else _stratified(labels, sample_size, seed))
    out = find_outliers(Z[rows], seed=seed, tick=tick)
    summary = out.to_dict()
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[rows] = out.is_outlier
    k_distance = np.full(n, np.nan, dtype=np.float32)
    k_distance[rows] = out.k_distance
    if rows.size == n:
        return summary, is_outlier, k_distance, basis.exact(n)
    for item in summary["most_atypical"]:
        item["row"] = int(rows[item["row"]])
    vibe_sizes = np.bincount(labels)
    weights = vibe_sizes[labels[rows]] / np.bincount(labels[rows], minlength=vibe_sizes.size
                                                     )[labels[rows]]
    share = weighted_mean_ci95(out.is_outlier.astype(np.float64), weights, n)
    summary["outlier_share"] = round(share.mean, 5)
    return summary, is_outlier, k_distance, basis.sampled(
        rows.size, n, share.ci95, note="stratified by vibe; CI of the outlier share")


def _stratified(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Rows of a seeded sample stratified by vibe, small vibes raised to a floor (200, or a
    twentieth of the sample when it is tiny)."""
    return stratified_sample(labels, size, min_per_group=min(200, size // 20), seed=seed)

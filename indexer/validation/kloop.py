"""The K-loop: fit K-Means++ for a range of K and score every fit on all points.

Why: the product ships one K (default 4), and analysts need to see, with exact figures on
the whole catalogue, what the usual criteria say about it. Inertia, Davies-Bouldin and
Calinski-Harabasz are cheap; the exact silhouette is not, so all K share one pass over
the pairwise distances (:func:`vibemap.indexer.validation.silhouette.silhouette_samples_multi`).

Pure functions on arrays; nothing here reads or writes files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from vibemap.indexer.stages import Tick
from vibemap.indexer.validation.kchoice import choose_k
from vibemap.indexer.validation.kfits import fit_all
from vibemap.indexer.validation.silhouette import (
    DEFAULT_CHUNK_SIZE,
    available_cores,
    silhouette_samples_multi,
)

if TYPE_CHECKING:
    from vibemap.indexer.validation.sampled_silhouette import SampledSilhouettes

Sampler = Callable[[np.ndarray, list[np.ndarray]], "SampledSilhouettes"]
""" (X, labelings) -> sampled silhouettes (vibemap.indexer.validation.sampled_silhouette)."""

logger = logging.getLogger(__name__)

DEFAULT_K_VALUES: tuple[int, ...] = tuple(range(2, 11))

DEFAULT_N_INIT = 10
"""K-Means++ restarts per K, the same as the product's final fit; the whole loop stays inside
its time budget with them (bench/RESULTS.md), so no restarts are traded for time."""

SAMPLED_SILHOUETTE = ("estimated on a sample stratified on every K (each sampled track's "
                      "silhouette exact against all tracks), with a 95% confidence interval "
                      "(Euclidean)")
FIT_ON_SAMPLE = ("K-Means++ (n_init restarts) fitted on one seeded uniform sample of the "
                 "tracks per K, then every track assigned to its nearest centroid; inertia, "
                 "Davies-Bouldin and Calinski-Harabasz are computed on that assignment of "
                 "all tracks, n_iter counts the sample fit's iterations")
ELBOW_METHOD = (
    "Kneedle-style: K and inertia are min-max scaled to [0, 1]; the elbow is the K whose "
    "point lies farthest below the straight chord from the first to the last K "
    "(none when no point lies below it)"
)


@dataclass(frozen=True)
class KMetrics:
    """Scores of one K-Means++ fit; higher silhouette / CH and lower DB / inertia are better."""

    n_clusters: int
    inertia: float
    silhouette: float
    davies_bouldin: float
    calinski_harabasz: float
    n_iter: int
    fit_seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KeptFit:
    """The fit and per-sample silhouettes of one K, kept so callers need not refit.

    ``labels`` are K-Means's own cluster ids (int32, shape (n,)), ``centroids`` float64
    (K, d), ``silhouette_samples`` float64 (n,).
    """

    n_clusters: int
    labels: NDArray[np.int32]
    centroids: NDArray[np.float64]
    silhouette_samples: NDArray[np.float64]

    def summary(self) -> dict:
        """Per-cluster sizes and mean silhouettes, plus the share of negative silhouettes."""
        sizes = np.bincount(self.labels, minlength=self.n_clusters)
        sums = np.bincount(self.labels, weights=self.silhouette_samples, minlength=self.n_clusters)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / sizes
        return {
            "n_clusters": self.n_clusters,
            "cluster_sizes": [int(s) for s in sizes],
            "silhouette_by_cluster": [float(v) if np.isfinite(v) else None for v in means],
            "negative_silhouette_share": float(np.mean(self.silhouette_samples < 0)),
        }


@dataclass(frozen=True)
class KLoopTimings:
    """Wall-clock seconds per stage of :func:`run_k_loop`.

    ``kmeans`` is the wall time of all fits together (they run in parallel), so it is less
    than the sum of the per-K ``KMetrics.fit_seconds``.
    """

    kmeans: float
    silhouette: float
    davies_bouldin: float
    calinski_harabasz: float
    total: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KLoopResult:
    """Metrics per K, the K each criterion prefers, and how long each stage took."""

    metrics: tuple[KMetrics, ...]
    elbow_k: int | None
    best_silhouette_k: int
    best_davies_bouldin_k: int
    best_calinski_harabasz_k: int
    n_samples: int
    n_features: int
    seed: int
    n_init: int
    timings: KLoopTimings
    kept: KeptFit | None = field(default=None, repr=False)
    extra_silhouettes: tuple[NDArray[np.float64], ...] = field(default=(), repr=False)
    sampled: SampledSilhouettes | None = field(default=None, repr=False)
    fit_sample: int | None = None  # rows each K was fitted on, when fewer than all

    @property
    def k_values(self) -> tuple[int, ...]:
        return tuple(m.n_clusters for m in self.metrics)

    def for_k(self, n_clusters: int) -> KMetrics:
        """Metrics of one K; ValueError when that K was not evaluated."""
        for m in self.metrics:
            if m.n_clusters == n_clusters:
                return m
        raise ValueError(f"K={n_clusters} was not evaluated; evaluated K: {list(self.k_values)}")

    def to_dict(self) -> dict:
        """Plain ints, floats, lists and dicts, ready for ``json.dumps``."""
        return {
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "seed": self.seed,
            "n_init": self.n_init,
            "k_values": list(self.k_values),
            "metrics": [m.to_dict() for m in self.metrics],
            "elbow_k": self.elbow_k,
            "elbow_method": ELBOW_METHOD,
            "best_silhouette_k": self.best_silhouette_k,
            "best_davies_bouldin_k": self.best_davies_bouldin_k,
            "best_calinski_harabasz_k": self.best_calinski_harabasz_k,
            "silhouette": "exact, mean over all samples (Euclidean)" if self.sampled is None
            else SAMPLED_SILHOUETTE,
            "timings_s": self.timings.to_dict(),
            "kept": self.kept.summary() if self.kept is not None else None,
            **({} if self.fit_sample is None else {"fit": {
                "method": FIT_ON_SAMPLE, "sample_rows": self.fit_sample,
                "assigned_rows": self.n_samples}}),
        }


def elbow_of_inertia(k_values: ArrayLike, inertia: ArrayLike) -> int | None:
    """K at the elbow of a decreasing inertia curve (see ``ELBOW_METHOD``).

    Parameters
    ----------
    k_values : int array of shape (m,), strictly increasing
    inertia : float array of shape (m,)

    Returns
    -------
    int or None
        The K farthest below the chord of the min-max scaled curve; None with fewer than
        three points, no overall decrease, or no point below the chord (a straight or
        concave curve has no elbow).
    """
    k = np.asarray(k_values, dtype=np.float64)
    y = np.asarray(inertia, dtype=np.float64)
    if k.ndim != 1 or k.shape != y.shape:
        raise ValueError(
            f"k_values and inertia must be 1-D of equal length, got {k.shape}, {y.shape}"
        )
    if k.size and np.any(np.diff(k) <= 0):
        raise ValueError("k_values must be strictly increasing")
    if k.size < 3 or not y[0] > y[-1]:
        return None
    x = (k - k[0]) / (k[-1] - k[0])
    y = (y - y[-1]) / (y[0] - y[-1])
    gap = (1.0 - x) - y  # how far below the chord y = 1 - x; perpendicular distance / sqrt(2)
    best = int(np.argmax(gap))
    if gap[best] <= 1e-12:
        return None
    return int(round(k[best]))


def _check_inputs(X: np.ndarray, ks: tuple[int, ...], keep_samples_for: int | None) -> None:
    if X.ndim != 2 or X.shape[0] < 3 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (n_samples >= 3, n_features >= 1), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    if not ks:
        raise ValueError("k_values is empty")
    if list(ks) != sorted(set(ks)):
        raise ValueError(f"k_values must be strictly increasing, got {list(ks)}")
    if ks[0] < 2 or ks[-1] > X.shape[0] - 1:
        raise ValueError(
            f"every K must lie in 2..n_samples - 1 = {X.shape[0] - 1}, got {list(ks)}"
        )
    if keep_samples_for is not None and keep_samples_for not in ks:
        raise ValueError(f"keep_samples_for={keep_samples_for} is not in k_values {list(ks)}")


def run_k_loop(
    X: ArrayLike,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    seed: int = 0,
    n_init: int = DEFAULT_N_INIT,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    keep_samples_for: int | None = None,
    n_threads: int | None = None,
    extra_labelings: Sequence[ArrayLike] = (),
    sampler: Sampler | None = None,
    tick: Tick | None = None,
    fit_sample: int | None = None,
) -> KLoopResult:
    """Fit K-Means++ for every K and score each fit exactly on all points.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features)
        Standardised features (float32 is used as is; K-Means then runs in float32).
    k_values : iterable of int
        Strictly increasing K values, each in 2..n_tracks - 1.
    seed : int
        ``random_state`` of every K-Means fit: equal inputs give equal results.
    n_init : int
        K-Means++ restarts per K (see ``DEFAULT_N_INIT``).
    chunk_size : int
        Tile edge of the silhouette pass.
    keep_samples_for : int or None
        A K whose labels, centroids and per-sample silhouettes are kept in ``result.kept``.
    n_threads : int or None
        Threads for the K-Means fits (whole fits in parallel) and the silhouette pass
        (None: all cores available to the process).
    extra_labelings : sequence of int arrays of shape (n_tracks,)
        Other labelings (e.g. the product's own fit) scored in the same distance pass;
        their per-sample silhouettes are in ``result.extra_silhouettes``.
    sampler : None for the exact silhouette of every point; else a function that estimates
        them on a sample (``result.sampled``); per-sample arrays are then NaN off the sample.
    tick : progress of the fits and the exact silhouette pass, (task, done, total).
    fit_sample : None fits every K on all points; else on a seeded uniform sample of that
        many rows, every point then assigned (:mod:`vibemap.indexer.validation.kfits`), so
        labels, inertia and the indices are still of all points. Ignored when n is no larger.

    Returns
    -------
    KLoopResult
        Metrics per K in K order, the preferred K of each criterion (elbow of inertia,
        highest silhouette, lowest Davies-Bouldin, highest Calinski-Harabasz) and timings.
    """
    t_start = time.perf_counter()
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    ks = tuple(int(k) for k in k_values)
    _check_inputs(X, ks, keep_samples_for)
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")

    threads = n_threads if n_threads is not None else available_cores()
    t0 = time.perf_counter()
    fits = fit_all(X, ks, seed, n_init, threads, tick, fit_sample)
    t_kmeans = time.perf_counter() - t0

    labelings = [f.labels for f in fits]
    extras = [np.asarray(labels) for labels in extra_labelings]
    t0 = time.perf_counter()
    sampled = None
    if sampler is None:
        step = None if tick is None else (lambda d, t: tick("silhouette (exact)", d, t))
        samples = silhouette_samples_multi(X, labelings + extras, chunk_size=chunk_size,
                                           n_threads=threads, progress=step)
        means = [float(s.mean()) for s in samples]
    else:
        sampled = sampler(X, labelings + extras)
        means = [e.mean for e in sampled.estimates]
        samples = [np.full(X.shape[0], np.nan) for _ in sampled.samples]
        for full, part in zip(samples, sampled.samples, strict=True):
            full[sampled.rows] = part
    samples, extra_samples = samples[: len(labelings)], samples[len(labelings):]
    t_silhouette = time.perf_counter() - t0
    logger.info("%s silhouette for %d K on %d points: %.2f s",
                "exact" if sampled is None else "sampled", len(ks), X.shape[0], t_silhouette)

    t0 = time.perf_counter()
    db = [float(davies_bouldin_score(X, labels)) for labels in labelings]
    t_db = time.perf_counter() - t0
    t0 = time.perf_counter()
    ch = [float(calinski_harabasz_score(X, labels)) for labels in labelings]
    t_ch = time.perf_counter() - t0

    metrics = tuple(
        KMetrics(
            n_clusters=k,
            inertia=fit.inertia,
            silhouette=s,
            davies_bouldin=d,
            calinski_harabasz=c,
            n_iter=fit.n_iter,
            fit_seconds=fit.seconds,
        )
        for k, fit, s, d, c in zip(ks, fits, means[: len(ks)], db, ch, strict=True)
    )
    kept = None
    if keep_samples_for is not None:
        idx = ks.index(keep_samples_for)
        kept = KeptFit(
            n_clusters=keep_samples_for,
            labels=fits[idx].labels.astype(np.int32),
            centroids=fits[idx].centroids.astype(np.float64),
            silhouette_samples=samples[idx],
        )
    timings = KLoopTimings(
        kmeans=t_kmeans,
        silhouette=t_silhouette,
        davies_bouldin=t_db,
        calinski_harabasz=t_ch,
        total=time.perf_counter() - t_start,
    )
    # Ties go to the smaller K (argmax / argmin take the first), the simpler model.
    return KLoopResult(
        metrics=metrics,
        elbow_k=elbow_of_inertia(np.asarray(ks), [m.inertia for m in metrics]),
        best_silhouette_k=ks[int(np.argmax([m.silhouette for m in metrics]))],
        best_davies_bouldin_k=ks[int(np.argmin(db))],
        best_calinski_harabasz_k=ks[int(np.argmax(ch))],
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        seed=seed,
        n_init=n_init,
        timings=timings,
        kept=kept,
        extra_silhouettes=tuple(extra_samples),
        sampled=sampled,
        fit_sample=(None if fit_sample is None or fit_sample >= X.shape[0]
                    else int(fit_sample)),
    )

__all__ = ["KLoopResult", "KMetrics", "choose_k", "elbow_of_inertia", "run_k_loop"]

"""The K-loop's K-Means fits: on all points, or above the exact budget on a uniform sample
with every point then assigned to its nearest centroid.

Why the sampled fit: at 10M tracks the nine fits of K = 2..10 on all rows (n_init restarts
each) took 2,570 s of the 3,005 s K-loop (bench/RESULTS.md, "Validation budget"). A
K-Means++ fit on a uniform sample (``FIT_SAMPLE_PER_BUDGET``) puts the centroids within
~scale/sqrt(rows per cluster) of the full fit's (the Spark engine's ``sample`` mode rests on
the same argument); assigning every row to those centroids is one O(nK) pass per K, so the
labels, the inertia, Davies-Bouldin and Calinski-Harabasz stay figures of all n tracks -- of
the sample's centroids, not of a Lloyd optimum on all n, which the basis label says. No
Lloyd step on all rows follows: at 1M one moved the inertia by < 0.01% (bench/RESULTS.md)
for another O(nK) pass per K.

Pure functions on arrays; nothing here reads or writes files.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from vibemap.indexer.recall import sample_rows
from vibemap.indexer.stages import Tick

logger = logging.getLogger(__name__)

FIT_SAMPLE_PER_BUDGET = 2
"""Above the exact budget each K is fitted on this many times ``exact_max_tracks`` rows
(200,000 at the default budget): at 1M tracks such fits gave every K's inertia on all rows
within 0.03% of the full fit's, ARI 0.91-0.99 against its labels, in 145 s against 405 s
with the assignment (bench/RESULTS.md, "Validation budget"); at 10M the fits cost what they
cost at 1M and only the assignment grows. A K-Means iteration is O(n K), so it gets a larger
sample than the O(n^2) analyses; a tiny budget (tests) gets a tiny sample."""

ASSIGN_CHUNK = 1 << 18
"""Rows per block of the assignment pass: a block's K distance columns in float64 stay a
few MB whatever n is."""


@dataclass(frozen=True)
class KFit:
    """One K's fit as the loop scores it.

    labels : int32 (n,), K-Means's own cluster ids of every point;
    centroids : (K, d) in the dtype of the fit; inertia : sum of squared distances of every
    point to its centroid; n_iter / seconds : of the K-Means run (on the sample, if any)
    plus, for ``seconds``, the assignment of all points.
    """

    n_clusters: int
    labels: NDArray[np.int32]
    centroids: np.ndarray
    inertia: float
    n_iter: int
    seconds: float


def fit_all(
    X: np.ndarray, ks: tuple[int, ...], seed: int, n_init: int, n_threads: int,
    tick: Tick | None = None, fit_sample: int | None = None,
) -> list[KFit]:
    """One K-Means++ fit per K (in ``ks`` order), several K at a time, each fit on one core.

    ``fit_sample``: None fits on all points (sklearn's labels and inertia as they are);
    else each K is fitted on the same seeded uniform sample of that many rows (all rows
    when there are fewer) and every point is then assigned (:func:`assign_nearest`).

    Why not sklearn's own OpenMP threads: a 96k x 9 Lloyd step is too short to amortise
    OpenMP barriers, and when other processes share the cores the spinning threads made the
    fits an order of magnitude slower (bench/RESULTS.md). Whole fits in parallel scale
    instead. ``omp_set_num_threads`` is per thread, so each worker limits only itself.
    """
    rows = None
    if fit_sample is not None and fit_sample < len(X):
        rows = sample_rows(0, len(X), fit_sample, np.random.default_rng(seed))
    Xfit = X if rows is None else X[rows]

    def fit(k: int) -> KFit:
        with threadpool_limits(limits=1, user_api="openmp"):
            t0 = time.perf_counter()
            km = KMeans(
                n_clusters=k, init="k-means++", n_init=n_init, random_state=seed,
                algorithm="lloyd",
            ).fit(Xfit)
            if rows is None:
                labels, inertia = km.labels_, float(km.inertia_)
            else:
                labels, inertia = assign_nearest(X, km.cluster_centers_)
            seconds = time.perf_counter() - t0
        logger.info("K=%d: inertia %.1f, %d iterations, %.2f s%s", k, inertia, km.n_iter_,
                    seconds, "" if rows is None else f" (fitted on {rows.size:,} rows)")
        if tick:
            with lock:
                done.append(k)
                tick(f"K-Means K={ks[0]}..{ks[-1]}", len(done), len(ks))
        return KFit(k, labels, km.cluster_centers_, inertia, int(km.n_iter_), seconds)

    lock, done = threading.Lock(), []
    if tick:
        tick(f"K-Means K={ks[0]}..{ks[-1]}", 0, len(ks))

    # sklearn limits BLAS to one thread inside each fit and restores it afterwards; with
    # fits in parallel those restores interleave, so hold the limit around all of them.
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(ks)))) as pool:
            # Largest K first: they take longest, so the workers finish together.
            by_k = dict(zip(sorted(ks, reverse=True),
                            pool.map(fit, sorted(ks, reverse=True)), strict=True))
    return [by_k[k] for k in ks]


def assign_nearest(X: np.ndarray, centroids: np.ndarray, chunk: int = ASSIGN_CHUNK
                   ) -> tuple[NDArray[np.int32], float]:
    """Nearest centroid of every row and the inertia, both on all rows.

    X : (n, d) float32 or float64; centroids : (K, d). Squared Euclidean distances are
    computed as sum((x - c)^2) in float64, one centroid at a time per block (no expansion
    ||x||^2 - 2x.c + ||c||^2, whose cancellation would bias the inertia); ties go to the
    lower cluster id, as argmin. O(n K d) time, O(chunk K) memory.
    """
    C = np.asarray(centroids, dtype=np.float64)
    n = len(X)
    labels = np.empty(n, dtype=np.int32)
    inertia = 0.0
    dist = np.empty((min(chunk, n), len(C)))
    for lo in range(0, n, chunk):
        block = np.asarray(X[lo:lo + chunk], dtype=np.float64)
        d = dist[: len(block)]
        for j, c in enumerate(C):
            d[:, j] = np.square(block - c).sum(axis=1)
        best = d.argmin(axis=1)
        labels[lo:lo + len(block)] = best
        inertia += float(d[np.arange(len(block)), best].sum())
    return labels, inertia

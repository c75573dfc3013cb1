"""The silhouette of big catalogues, estimated on a sample with a 95% confidence interval.

Why: the exact silhouette is O(n^2) (minutes at 200k tracks, hours at 1M). Each sampled
track's silhouette is computed *exactly*, against all n tracks, so the only uncertainty is
which tracks were drawn: the mean over the sample is an unbiased estimate of the exact mean,
and its interval is an honest sampling interval (no bias from a small reference set, as with
``sklearn.metrics.silhouette_score(sample_size=...)``).

The sample is stratified on every K at once: tracks are sorted by *cell* (their tuple of
labels over all labelings, random order inside a cell) and one track is drawn from each of m
consecutive, equal-as-possible slices of that order (systematic sampling with a random draw
per slice), so every cluster of every K gets its share of the sample, within two tracks. Each
drawn track carries the weight of its slice (N / m, give or take one), which keeps the
estimate exactly unbiased. The interval uses the simple-random-sampling variance, which
stratification can only make smaller: it is conservative.

The K the silhouette prefers rests on differences between K; they are measured on the same
tracks (paired), with their own interval, and the sample grows (doubling, up to a cap) until
the best K is told apart from every other K, or says which it cannot tell apart.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from vibemap.indexer.validation.silhouette import (
    FLOAT64_UP_TO,
    _cells,
    _encode,
    available_cores,
    silhouettes_from_sums,
)

Z95 = 1.959963984540054  # two-sided 95% normal quantile
SAMPLE_START = 10_000
"""First sample size: a mean silhouette's 95% half-width is then ~±0.003 (per-track spread
~0.15), finer than the gaps between K seen on real catalogues (bench/RESULTS.md)."""
SAMPLE_MAX = 40_000
"""Largest sample: 40k x 1M distances take about a minute on two cores (bench/RESULTS.md)."""

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Estimate:
    """A weighted sample mean and its 95% half-width."""

    mean: float
    ci95: float


@dataclass(frozen=True)
class KComparison:
    """The paired difference ``silhouette(best) - silhouette(other)`` on the sampled tracks."""

    best_k: int
    other_k: int
    difference: float
    ci95: float

    @property
    def separated(self) -> bool:
        return abs(self.difference) > self.ci95

    def to_dict(self) -> dict:
        return {"best_k": self.best_k, "other_k": self.other_k,
                "difference": round(self.difference, 6), "ci95": round(self.ci95, 6),
                "separated": self.separated}


@dataclass(frozen=True, eq=False)
class SampledSilhouettes:
    """Sampled silhouettes of several labelings (the first ``len(k_values)`` are the K-loop's).

    ``rows`` int64 (m,) sampled track rows, ``weights`` float64 (m,) summing to n_total,
    ``samples`` one float64 (m,) array per labeling, exact silhouettes of those rows.
    """

    rows: NDArray[np.int64]
    weights: NDArray[np.float64]
    samples: tuple[NDArray[np.float64], ...]
    estimates: tuple[Estimate, ...]
    k_values: tuple[int, ...]
    comparisons: tuple[KComparison, ...]
    n_total: int
    rounds: tuple[int, ...]  # sample sizes tried, the last one kept

    @property
    def n_sample(self) -> int:
        return int(self.rows.size)

    @property
    def unresolved(self) -> tuple[int, ...]:
        """K values the sample cannot tell apart from the best K."""
        return tuple(c.other_k for c in self.comparisons if not c.separated)


def weighted_mean_ci95(values: ArrayLike, weights: ArrayLike, n_total: int) -> Estimate:
    """Weighted mean of a sample and its 95% half-width (normal approximation).

    values, weights : float arrays of shape (m,); weights sum to ``n_total`` (each drawn track
    stands for ``weight`` tracks). The half-width is ``1.96 sd / sqrt(m) sqrt(1 - m / n)``,
    the simple-random-sampling one, conservative for the stratified draw used here.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.ndim != 1 or v.shape != w.shape or v.size == 0:
        raise ValueError(f"values and weights must be equal 1-D arrays, got {v.shape}, {w.shape}")
    mean = float(np.dot(v, w) / w.sum())
    m = v.size
    if m < 2 or m >= n_total:
        return Estimate(mean, 0.0 if m >= n_total else math.inf)
    sd = float(np.sqrt(np.dot(w, (v - mean) ** 2) / w.sum() * m / (m - 1)))
    return Estimate(mean, Z95 * sd / math.sqrt(m) * math.sqrt(1 - m / n_total))


def systematic_sample(cells: ArrayLike, size: int, seed: int = 0
                      ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One row from each of ``size`` consecutive slices of the rows sorted by cell.

    cells : int array (n,), the stratum of each row. Returns (rows, weights): rows int64
    (size,), distinct, in slice order; weights float64, the length of each row's slice
    (they sum to n). All rows, weight 1, when size >= n.
    """
    cells = np.asarray(cells)
    n = cells.shape[0]
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if size >= n:
        return np.arange(n, dtype=np.int64), np.ones(n, dtype=np.float64)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.permutation(n), cells))  # by cell, random inside a cell
    bounds = (np.arange(size + 1, dtype=np.int64) * n) // size
    lengths = np.diff(bounds)
    picks = bounds[:-1] + (rng.random(size) * lengths).astype(np.int64)
    return order[picks].astype(np.int64), lengths.astype(np.float64)


def silhouettes_of_rows(
    X: ArrayLike,
    rows: ArrayLike,
    labelings: Sequence[ArrayLike],
    *,
    chunk_size: int = 2048,
    row_tile: int = 256,
    n_threads: int | None = None,
    progress: Progress | None = None,
) -> list[NDArray[np.float64]]:
    """Exact Euclidean silhouettes of the points ``rows``, each measured against all n points.

    Same definition as ``sklearn.metrics.silhouette_samples``, restricted to ``rows``.
    Columns are sorted by cell, so each distance tile is summed per run of equal cells
    (``np.add.reduceat``) and only (tile x cells) sums are kept, never (m x n). Tiles are
    float64 up to ``FLOAT64_UP_TO`` points, float32 above (as the exact pass).

    Returns one float64 array of shape (len(rows),) per labeling.
    """
    X = np.asarray(X)
    n = X.shape[0]
    rows = np.asarray(rows, dtype=np.intp)
    encoded = [_encode(labels, n) for labels in labelings]
    codes = [c for c, _ in encoded]
    widths = [counts.shape[0] for _, counts in encoded]
    cells = _cells(codes, widths)
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    n_cells = int(sorted_cells[-1]) + 1
    first = order[np.searchsorted(sorted_cells, np.arange(n_cells))]
    H = np.zeros((n_cells, sum(widths)), dtype=np.float64)  # cell -> its cluster of each K
    off = 0
    for c, width in zip(codes, widths, strict=True):
        H[np.arange(n_cells), off + c[first]] = 1.0
        off += width

    dtype = np.float64 if n <= FLOAT64_UP_TO else np.float32
    mean = X.mean(axis=0, dtype=np.float64)
    Xs = X[order].astype(np.float64) - mean
    sq = np.einsum("ij,ij->i", Xs, Xs)
    B = np.column_stack([-2.0 * Xs, np.ones(n), sq]).astype(dtype)
    del Xs
    Q = X[rows].astype(np.float64) - mean
    A = np.column_stack([Q, np.einsum("ij,ij->i", Q, Q), np.ones(len(rows))]).astype(dtype)
    chunks = []
    for j0 in range(0, n, chunk_size):
        local = sorted_cells[j0 : j0 + chunk_size]
        starts = np.concatenate([[0], np.flatnonzero(local[1:] != local[:-1]) + 1])
        chunks.append((j0, min(j0 + chunk_size, n), starts, local[starts]))

    S = np.empty((len(rows), H.shape[1]), dtype=np.float64)
    tiles = list(range(0, len(rows), row_tile))
    lock = threading.Lock()
    done = [0]

    def work(r0: int) -> None:
        r1 = min(r0 + row_tile, len(rows))
        acc = np.zeros((r1 - r0, n_cells), dtype=np.float64)
        for j0, j1, starts, ids in chunks:
            D = A[r0:r1] @ B[j0:j1].T
            np.maximum(D, 0, out=D)
            np.sqrt(D, out=D)
            acc[:, ids] += np.add.reduceat(D, starts, axis=1)
        S[r0:r1] = acc @ H
        if progress:
            with lock:
                done[0] += r1 - r0
                progress(done[0], len(rows))

    threads = max(1, min(n_threads or available_cores(), len(tiles)))
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, tiles))
    return silhouettes_from_sums(S, encoded, rows)


def compare_ks(samples: Sequence[NDArray[np.float64]], weights: NDArray[np.float64],
               k_values: Sequence[int], n_total: int, best: int) -> tuple[KComparison, ...]:
    """Paired differences between the best K and every other K, on the same tracks."""
    i = list(k_values).index(best)
    out = []
    for j, k in enumerate(k_values):
        if j != i:
            e = weighted_mean_ci95(samples[i] - samples[j], weights, n_total)
            out.append(KComparison(best, int(k), e.mean, e.ci95))
    return tuple(out)


def estimate_silhouettes(
    X: ArrayLike,
    labelings: Sequence[ArrayLike],
    k_values: Sequence[int],
    *,
    start: int = SAMPLE_START,
    cap: int = SAMPLE_MAX,
    seed: int = 0,
    n_threads: int | None = None,
    progress: Progress | None = None,
) -> SampledSilhouettes:
    """Mean silhouette of every labeling on a growing stratified sample.

    labelings : the K-loop's labelings (one per ``k_values`` entry, in order) then any
    others (e.g. the product's own fit), all of shape (n,). The sample doubles from
    ``start`` while the best of the K-loop's means is not told apart from every other K
    (paired 95% intervals), up to ``cap`` tracks; the last sample is kept.
    """
    X = np.asarray(X)
    n = X.shape[0]
    if not 1 <= start <= cap:
        raise ValueError(f"need 1 <= start <= cap, got start={start}, cap={cap}")
    if len(labelings) < len(k_values) or not k_values:
        raise ValueError("need one labeling per K value, and at least one K")
    encoded = [_encode(labels, n)[0] for labels in labelings]
    cells = _cells(encoded, [int(c.max()) + 1 for c in encoded])
    size, rounds = min(start, n), []
    while True:
        rows, weights = systematic_sample(cells, size, seed=seed + len(rounds))
        rounds.append(size)
        samples = silhouettes_of_rows(X, rows, labelings, n_threads=n_threads,
                                      progress=progress)
        estimates = tuple(weighted_mean_ci95(s, weights, n) for s in samples)
        best = k_values[int(np.argmax([e.mean for e in estimates[: len(k_values)]]))]
        comparisons = compare_ks(samples, weights, k_values, n, best)
        if all(c.separated for c in comparisons) or size >= min(cap, n):
            return SampledSilhouettes(rows, weights, tuple(samples), estimates,
                                      tuple(int(k) for k in k_values), comparisons, n,
                                      tuple(rounds))
        size = min(2 * size, cap, n)

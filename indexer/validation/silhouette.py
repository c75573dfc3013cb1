"""Exact silhouette for several labelings in one pass over the pairwise distances.

Why this exists: the K-loop needs the silhouette of every K on all ~96k tracks, and
``sklearn.metrics.silhouette_score`` takes over a minute per K at that size, while a sample
would make the reported figure approximate. Pairwise distances do not depend on K, so this
module walks them once, in cache-sized tiles, and turns every tile into the per-cluster
distance sums of all labelings at once. Nothing of size n x n is ever held.

What a silhouette needs is ``S[i, c] = sum_j ||x_i - x_j|| * H[j, c]``, with ``H`` the
one-hot matrices of all labelings side by side (n x sum(K)). How it is computed:

* Points are sorted by *cell*, their tuple of labels across all labelings (K-Means
  labelings for neighbouring K nest closely, so ~96k tracks form ~1000 cells, most of the
  points in a few dozen big ones). Within a run of equal cells every row of ``H`` is the
  same, so ``D @ H`` over that run is one matrix-vector product (tile x run, summed)
  followed by a tiny map from runs to clusters: the tile is read once instead of being
  multiplied by sum(K) = 54 columns.
* For a tile of rows ``I`` and columns ``J >= I`` (distances are symmetric):

  1. ``D = A[I] @ B[J].T`` with ``A = [x, |x|^2, 1]`` and ``B = [-2x, 1, |x|^2]`` gives
     squared distances in one BLAS call (float32 for large n, see ``FLOAT64_UP_TO``; the
     data is centred first so the norm trick loses little precision), clipped at 0 and
     square-rooted in place, with the diagonal of a diagonal tile set to exactly 0;
  2. run sums over the runs of ``J`` go to rows ``I``, and over the runs of ``I`` to rows
     ``J``, straight into a shared float32 ``run_sums`` table (every entry is written by
     exactly one tile, so threads never collide);
  3. a block with too many small runs (the tail of tiny cells) is instead multiplied by its
     rows of ``H`` and added into a per-thread float64 sum.

* Finally ``S = run_sums.T @ run_onehot`` (float64) plus the per-thread sums.

Tiles are shared between threads (BLAS limited to one thread each; numpy releases the GIL),
so the elementwise passes use every core too. Memory: the run-sum table is capped at
``_RUN_SUMS_BUDGET_BYTES``, the rest is O(n * sum(K)) plus a few tiles per thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 512
"""Tile edge: a 512 x 512 float32 tile (1 MiB) measured fastest of 256, 384, 512 and 1024
(bench/RESULTS.md)."""

FLOAT64_UP_TO = 20_000
"""With ``dtype=None``, problems up to this many points use float64 tiles: they cost under a
second, and float32's norm trick loses absolute precision on very short distances
(~sqrt(eps) x the data's spread), which can move a silhouette by ~1e-4 when a point's own
or nearest cluster is tiny and tight. Above it float32 is about twice as fast
(bench/RESULTS.md); with large clusters the averaging makes its error ~1e-7."""

_MAX_RUNS = 32
"""A block with more runs of equal cells than this is summed with its one-hot rows instead:
past that, many short matrix-vector products cost more than one (tile x sum(K)) product."""

_RUN_SUMS_BUDGET_BYTES = 256 * 2**20
"""Cap on the (runs x n) run-sum table; blocks with the most runs fall back to one-hot
products when the table would outgrow it (random labelings, huge n)."""


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Block:
    """A contiguous block of cell-sorted points and how tiles are summed over it.

    ``runs`` holds ``(start, stop, row)``: a run of points sharing one cell, relative to
    the block, and the row of the run-sum table it fills. When ``onehot`` is set, the block
    is summed with its rows of the one-hot matrix instead.
    """

    start: int
    stop: int
    runs: tuple[tuple[int, int, int], ...] = ()
    onehot: np.ndarray | None = None


def _encode(labels: ArrayLike, n_samples: int) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Map arbitrary labels to 0..K-1 and count them; reject what sklearn rejects."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"each labeling must have shape ({n_samples},), got {arr.shape}")
    _, codes = np.unique(arr, return_inverse=True)
    codes = codes.reshape(-1).astype(np.intp, copy=False)
    counts = np.bincount(codes)
    if not 1 < counts.shape[0] < n_samples:
        raise ValueError(
            f"number of labels is {counts.shape[0]}; valid values are 2 to "
            f"n_samples - 1 = {n_samples - 1} (inclusive)"
        )
    return codes, counts


def _cells(codes: list[NDArray[np.intp]], widths: list[int]) -> NDArray[np.intp]:
    """Id of each point's tuple of labels, ranked by cell size (0 = biggest cell)."""
    if float(np.prod(np.asarray(widths, dtype=np.float64))) < 2.0**62:
        # Mixed-radix key: a 1-D unique is far faster than a row-wise one.
        key = np.zeros(codes[0].shape[0], dtype=np.int64)
        for c, width in zip(codes, widths, strict=True):
            key = key * width + c
        _, cell_of, sizes = np.unique(key, return_inverse=True, return_counts=True)
    else:
        _, cell_of, sizes = np.unique(
            np.stack(codes, axis=1), axis=0, return_inverse=True, return_counts=True
        )
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(sizes.shape[0])
    return rank[cell_of.reshape(-1)]


def _augmented(X: NDArray[np.float64], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Row factors whose product is the squared distance matrix (see module docstring)."""
    sq = np.einsum("ij,ij->i", X, X)
    ones = np.ones_like(sq)
    A = np.column_stack([X, sq, ones]).astype(dtype)
    B = np.column_stack([-2.0 * X, ones, sq]).astype(dtype)
    return A, B


def _plan_blocks(
    cells: NDArray[np.intp], H: np.ndarray, chunk_size: int
) -> tuple[list[_Block], NDArray[np.float64]]:
    """Cut sorted points into blocks; pick run sums or one-hot products for each.

    Returns the blocks and ``run_onehot`` (runs x sum(K), float64), the clusters of each
    run-sum row.
    """
    n = cells.shape[0]
    bounds_of: list[NDArray[np.intp]] = []
    for start in range(0, n, chunk_size):
        local = cells[start : min(start + chunk_size, n)]
        cuts = np.flatnonzero(local[1:] != local[:-1]) + 1
        bounds_of.append(np.concatenate([[0], cuts, [local.shape[0]]]))
    max_rows = max(1, _RUN_SUMS_BUDGET_BYTES // (H.itemsize * n))
    n_runs = [b.shape[0] - 1 for b in bounds_of]
    use_runs = [False] * len(bounds_of)
    total = 0
    for idx in sorted(range(len(bounds_of)), key=n_runs.__getitem__):
        if n_runs[idx] > _MAX_RUNS or total + n_runs[idx] > max_rows:
            break
        use_runs[idx] = True
        total += n_runs[idx]

    blocks: list[_Block] = []
    first_rows: list[int] = []
    for idx, bounds in enumerate(bounds_of):
        start = idx * chunk_size
        stop = start + int(bounds[-1])
        if not use_runs[idx]:
            blocks.append(_Block(start, stop, onehot=H[start:stop]))
            continue
        runs = tuple(
            (int(a), int(b), len(first_rows) + k)
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        )
        first_rows.extend(start + int(a) for a in bounds[:-1])
        blocks.append(_Block(start, stop, runs=runs))
    run_onehot = H[np.asarray(first_rows, dtype=np.intp)].astype(np.float64)
    return blocks, run_onehot


def _distance_cluster_sums(
    A: np.ndarray,
    B: np.ndarray,
    blocks: list[_Block],
    run_onehot: NDArray[np.float64],
    n_threads: int,
    progress: Callable[[int, int], None] | None = None,
) -> NDArray[np.float64]:
    """S[i, c] = sum over j != i of ||x_i - x_j|| * H[j, c], never forming n x n."""
    n = A.shape[0]
    m = run_onehot.shape[1]
    dtype = A.dtype
    edge = max(b.stop - b.start for b in blocks)
    tiles = [(bi, bj) for ii, bi in enumerate(blocks) for bj in blocks[ii:]]
    lock = threading.Lock()
    cursor = iter(tiles)
    ones = np.ones(edge, dtype=dtype)
    run_sums = np.empty((run_onehot.shape[0], n), dtype=dtype)
    any_onehot = any(b.onehot is not None for b in blocks)
    taken = [0]  # tiles handed out, for progress

    def work() -> NDArray[np.float64] | None:
        S = np.zeros((n, m), dtype=np.float64) if any_onehot else None
        # Flat buffers so every tile view is C-contiguous (BLAS-friendly), even at the edges.
        d_buf = np.empty(edge * edge, dtype=dtype)
        zeros = np.zeros(edge * edge, dtype=dtype)
        t_buf = np.empty(edge * m, dtype=dtype)
        while True:
            with lock:
                tile = next(cursor, None)
                if progress and tile is not None:
                    taken[0] += 1
                    if taken[0] % 64 == 0 or taken[0] == len(tiles):
                        progress(taken[0], len(tiles))
            if tile is None:
                return S
            bi, bj = tile
            i0, i1, j0, j1 = bi.start, bi.stop, bj.start, bj.stop
            size = (i1 - i0) * (j1 - j0)
            D = d_buf[:size].reshape(i1 - i0, j1 - j0)
            np.matmul(A[i0:i1], B[j0:j1].T, out=D)
            # A full-size zeros operand takes numpy's SIMD loop; a scalar 0 is slower.
            np.maximum(D, zeros[:size].reshape(D.shape), out=D)
            np.sqrt(D, out=D)
            diagonal = i0 == j0
            if diagonal:
                # Self-distance must be exactly 0; the norm trick leaves rounding noise.
                np.fill_diagonal(D, 0)
            # Distances from rows I to the points of J ...
            if bj.onehot is None:
                for a, b, row in bj.runs:
                    np.matmul(D[:, a:b], ones[: b - a], out=run_sums[row, i0:i1])
            else:
                T = t_buf[: (i1 - i0) * m].reshape(i1 - i0, m)
                np.matmul(D, bj.onehot, out=T)
                S[i0:i1] += T  # type: ignore[index]
            if diagonal:
                continue
            # ... and, by symmetry, from rows J to the points of I.
            if bi.onehot is None:
                for a, b, row in bi.runs:
                    np.matmul(ones[: b - a], D[a:b], out=run_sums[row, j0:j1])
            else:
                T = t_buf[: (j1 - j0) * m].reshape(j1 - j0, m)
                np.matmul(D.T, bi.onehot, out=T)
                S[j0:j1] += T  # type: ignore[index]

    n_threads = max(1, min(n_threads, len(tiles)))
    # One BLAS thread per worker: the parallelism comes from the tiles, and it also covers
    # the elementwise passes, which a multi-threaded BLAS would leave on one core.
    with threadpool_limits(limits=1, user_api="blas"):
        if n_threads == 1:
            partial = [work()]
        else:
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                futures = [pool.submit(work) for _ in range(n_threads)]
                partial = [f.result() for f in futures]

    total = np.zeros((n, m), dtype=np.float64)
    for S in partial:
        if S is not None:
            total += S
    step = 8192
    for r0 in range(0, n, step):
        r1 = min(r0 + step, n)
        total[r0:r1] += run_sums[:, r0:r1].T.astype(np.float64) @ run_onehot
    return total


def silhouette_samples_multi(
    X: ArrayLike,
    labelings: Sequence[ArrayLike],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_threads: int | None = None,
    dtype: DTypeLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[NDArray[np.float64]]:
    """Exact per-sample Euclidean silhouettes for several labelings of the same points.

    Same definition and edge cases as ``sklearn.metrics.silhouette_samples``: a point alone
    in its cluster scores 0, a point's distance to itself is excluded from its intra-cluster
    mean, and 0/0 (all distances zero) scores 0.

    Parameters
    ----------
    X : float array of shape (n_samples, n_features)
        Points; centred (distances do not change, the norm trick gets more accurate) and
        converted to ``dtype``.
    labelings : sequence of arrays of shape (n_samples,)
        One labeling per entry (ints or any sortable labels), for example K-Means labels
        for K = 2..10. Each needs 2 <= n_labels <= n_samples - 1.
    chunk_size : int
        Edge of the square distance tiles; memory per thread is about
        ``2 * chunk_size**2 * itemsize``. The result does not depend on it beyond rounding.
    n_threads : int or None
        Worker threads; None uses every available core. BLAS is held at one thread per
        worker for the duration (a process-wide setting, restored afterwards).
    dtype : float32, float64 or None
        Precision of the distance tiles and run sums; cluster sums are always float64.
        None picks float64 up to ``FLOAT64_UP_TO`` points and float32 above. float32 is
        about twice as fast; its mean silhouette agrees with sklearn to ~1e-6, a single
        point's to ~1e-4 in the worst case (see ``FLOAT64_UP_TO``).
    progress : called with (tiles handed out, all tiles) as the pass goes.

    Returns
    -------
    list of float64 arrays of shape (n_samples,)
        Silhouette of every sample, one array per labeling, in input order.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (n_samples >= 2, n_features >= 1), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if dtype is None:
        dtype = np.float64 if X.shape[0] <= FLOAT64_UP_TO else np.float32
    tile_dtype = np.dtype(dtype)
    if tile_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {tile_dtype}")
    if n_threads is not None and n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if len(labelings) == 0:
        return []
    n = X.shape[0]
    encoded = [_encode(labels, n) for labels in labelings]
    codes = [c for c, _ in encoded]
    widths = [counts.shape[0] for _, counts in encoded]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)

    cells = _cells(codes, widths)
    order = np.argsort(cells, kind="stable")
    H = np.zeros((n, int(offsets[-1])), dtype=tile_dtype)
    rows = np.arange(n)
    for c, off in zip(codes, offsets[:-1], strict=True):
        H[rows, off + c[order]] = 1

    Xc = X[order].astype(np.float64)
    Xc -= Xc.mean(axis=0)
    A, B = _augmented(Xc, tile_dtype)
    blocks, run_onehot = _plan_blocks(cells[order], H, min(chunk_size, n))
    logger.debug(
        "silhouette: n=%d, %d labelings, %d cells, %d of %d blocks by runs (%d runs)",
        n, len(encoded), int(cells.max()) + 1,
        sum(b.onehot is None for b in blocks), len(blocks), run_onehot.shape[0],
    )
    threads = n_threads if n_threads is not None else available_cores()
    S = np.empty((n, H.shape[1]), dtype=np.float64)
    S[order] = _distance_cluster_sums(A, B, blocks, run_onehot, threads, progress)

    return silhouettes_from_sums(S, encoded, np.arange(n))


def silhouettes_from_sums(
    S: NDArray[np.float64],
    encoded: Sequence[tuple[NDArray[np.intp], NDArray[np.int64]]],
    points: NDArray[np.intp],
) -> list[NDArray[np.float64]]:
    """Silhouettes of ``points`` from their distance sums to every cluster.

    S : float64 (len(points), sum(K)), row r = sums of distances from point ``points[r]``
    to the members of each cluster of every labeling, side by side (its own distance 0);
    encoded : per labeling, (codes of all n points, cluster sizes) as from ``_encode``.
    """
    rows = np.arange(len(points))
    results: list[NDArray[np.float64]] = []
    off = 0
    for codes, counts in encoded:
        c = codes[points]
        sums = S[:, off : off + counts.shape[0]]
        off += counts.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            intra = sums[rows, c] / (counts[c] - 1)
            means = sums / counts
        means[rows, c] = np.inf
        inter = means.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sil = (inter - intra) / np.maximum(intra, inter)
        # NaN marks singletons (0/0 intra) and all-zero distances: both 0 in sklearn.
        results.append(np.nan_to_num(sil, nan=0.0))
    return results

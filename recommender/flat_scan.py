"""Exact top-k of one query over a flat index's scope, faster than FAISS's own scan for
the service's low-dimensional vectors, with FAISS's scores bit for bit.

FAISS scores a single query row by row (one short dot product per row: about 7 ns a row
at d = 10), so a 39k-row vibe costs ~0.3-0.5 ms. Here numpy scores the scope at once
over the vectors stored transposed (one BLAS matrix-vector product, ~1 ns a row), picks
the candidates that can be in the top k, allowing for the float rounding of either
computation, and FAISS rescores those few with its own kernel. The answer is FAISS's
exact top k (ties: the lower row first); bench/RESULTS.md ("Lean request path") has the
figures.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from vibemap.indexer.metric import to_similarity
from vibemap.indexer.vector_index import FLAT, PartitionedIndex

# Rows per group in the group-max pre-selection: the scope's scores are viewed as
# (GROUP, size // GROUP), and a column can hold a top-k row only if its max is near the
# k-th largest column max.
GROUP = 64
# Below this many rows FAISS's own scan costs no more than this one's fixed overhead
# (~7 ns a row against ~1.5 ns a row plus ~50 us; bench/RESULTS.md).
MIN_SCAN_ROWS = 8192
# Float32 unit roundoff; a bound on the rounding of a d-term dot product is ~d * U * |x||q|.
U = 2.0**-24


def top_k_candidates(p: np.ndarray, k: int, eps: float, group: int = GROUP) -> np.ndarray:
    """Positions in ``p`` of values that may be among its k largest when each value may be
    off by up to ``eps``: every ``i`` with ``p[i] >= t - 2 * eps``, ``t`` the k-th largest
    maximum of the columns of ``p`` viewed as (group, size // group). k distinct values reach
    ``t``, so ``t <= p_k`` (the k-th largest value) and every ``i`` with
    ``p[i] >= p_k - 2 * eps`` is among them; values above ``t`` lie in at most k - 1 columns
    or in the last ``size % group``, so there are few more than k (one comparison over ``p``
    instead of a selection over all of it).

    p : float32 array of shape (n,), k in [1, n // group]. Returns int64 positions, ascending.
    """
    g = len(p) // group
    col_max = p[:g * group].reshape(group, g).max(axis=0)
    t = np.partition(col_max, g - k)[g - k]
    return np.flatnonzero(p >= t - 2 * eps)


class FlatScan:
    """:meth:`PartitionedIndex.search` for one query, exact and faster on a flat index.

    X : float32 (n, d) the index's vectors (row i = global row i). For an IVF index, a
    batch of queries, a scope under ``min_rows`` rows or a k over the scope's size //
    ``group``, it answers through ``index.search`` itself.
    """

    def __init__(self, index: PartitionedIndex, X: np.ndarray, min_rows: int = MIN_SCAN_ROWS,
                 group: int = GROUP) -> None:
        self.index = index
        self.metric = index.metric
        self.min_rows = min_rows
        self.group = group
        self.flat = index.kind == FLAT
        if self.flat:
            X = np.asarray(X, dtype=np.float32)
            self.XT = np.ascontiguousarray(X.T)  # (d, n): one contiguous row per feature
            norms2 = np.einsum("ij,ij->i", X, X, dtype=np.float64)
            self.norms2 = norms2.astype(np.float32)
            self.max_norm = float(np.sqrt(norms2.max())) if len(X) else 0.0

    def search(self, queries: np.ndarray, limit: int, vibe_id: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (1, k), k = min(limit, scope size): the scope's best rows
        by FAISS's score, larger first, ties to the lower row; see
        :meth:`PartitionedIndex.search`."""
        if vibe_id is None:
            start, stop, sub = 0, self.index.ntotal, self.index.full
        else:
            p = self.index.partitions[vibe_id]
            start, stop, sub = p.start, p.stop, self.index.parts.get(vibe_id)
        size = stop - start
        k = min(int(limit), size)
        if (not self.flat or len(queries) != 1 or sub is None or size < self.min_rows
                or not 1 <= k <= size // self.group):
            return self.index.search(queries, limit, vibe_id)
        q = np.ascontiguousarray(queries[0], dtype=np.float32)
        p = q @ self.XT[:, start:stop]
        if self.metric == "euclidean":  # ||q||^2 - ||x - q||^2, the same order
            p = 2.0 * p - self.norms2[start:stop]
        eps = 8.0 * len(q) * U * (self.max_norm + math.sqrt(float(q @ q))) ** 2
        local = top_k_candidates(p, k, eps, self.group)
        return self._rescore(sub, q, local, k, start)

    def _rescore(self, sub: faiss.Index, q: np.ndarray, local: np.ndarray, k: int,
                 start: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of the candidate rows ``local`` by FAISS's own score of them."""
        D = np.empty((1, len(local)), dtype=np.float32)
        sub.compute_distance_subset(1, faiss.swig_ptr(q[None, :]), len(local),
                                    faiss.swig_ptr(D), faiss.swig_ptr(local[None, :]))
        scores = to_similarity(D[0], self.metric)
        order = np.lexsort((local, -scores))[:k]
        return scores[order][None, :], (local[order] + start)[None, :]

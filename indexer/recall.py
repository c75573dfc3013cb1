"""Recall measurement and nprobe tuning (as faiss contrib's evaluation): how much of the
exact top-k an approximate search finds, and the probe counts that reach a target."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from vibemap.indexer.exhaustive_search import exact_search, to_index_space

if TYPE_CHECKING:
    from vibemap.indexer.vector_index import PartitionedIndex

logger = logging.getLogger(__name__)

RECALL_K = 10
RECALL_TARGET = 0.99
RECALL_QUERIES = 1000

SearchFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def recall_at_k(
    approx_scores: np.ndarray,
    approx_rows: np.ndarray,
    exact_scores: np.ndarray,
    exact_rows: np.ndarray,
    k: int = RECALL_K,
) -> float:
    """Mean share of the exact top-``k`` that an approximate search found.

    All arrays are (q, >= k) with scores larger-is-better. Ties count: an approximate
    result whose score equals the exact k-th score (to float32 rounding) is a hit
    even when exact search broke the tie towards another row, so duplicate vectors
    do not read as misses.
    """
    if len(exact_rows) == 0 or k <= 0:
        return 1.0
    kk = min(k, exact_rows.shape[1])
    kth = exact_scores[:, kk - 1 : kk]
    tol = 1e-5 * np.maximum(1.0, np.abs(kth))
    A_rows, A_scores = approx_rows[:, :kk], approx_scores[:, :kk]
    in_exact = (A_rows[:, :, None] == exact_rows[:, None, :kk]).any(axis=2)
    hits = (A_rows >= 0) & (in_exact | (A_scores >= kth - tol))
    return float(np.minimum(hits.sum(axis=1), kk).mean() / kk)


def sample_rows(start: int, stop: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` distinct rows of ``[start, stop)``, ascending (all of them if fewer)."""
    size = stop - start
    if size <= n:
        return np.arange(start, stop, dtype=np.int64)
    return start + np.sort(rng.choice(size, n, replace=False)).astype(np.int64)


def drop_self(scores: np.ndarray, rows: np.ndarray, self_rows: np.ndarray, k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the first ``k`` results that are not the query's own row."""
    keep = rows != self_rows[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)


class RecallProbe:
    """Queries over one scope (rows ``[start, stop)``) with their exact top-k, computed
    once, to measure recall@k of any search over that scope (see :meth:`recall`).

    ``self_rows[i]`` is the row query ``i`` was taken from (-1 for a synthetic query);
    it is left out of both result lists, as a "similar tracks" query leaves out its seed.
    """

    def __init__(self, X: np.ndarray, start: int, stop: int, metric: str,
                 queries: np.ndarray, self_rows: np.ndarray, k: int = RECALL_K) -> None:
        self.k = k
        self.self_rows = np.asarray(self_rows, dtype=np.int64)
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.exact = None
        if stop - start > 1 and len(self.queries):
            eD, eI = exact_search(X[start:stop], self.queries, k + 1, metric, offset=start)
            self.exact = drop_self(eD, eI, self.self_rows, k)

    @classmethod
    def of_rows(cls, X: np.ndarray, start: int, stop: int, metric: str, rows: np.ndarray,
                k: int = RECALL_K) -> RecallProbe:
        """Each row queries its own vector."""
        return cls(X, start, stop, metric, X[rows], rows, k)

    def recall(self, search: SearchFn) -> float:
        """``search(queries, limit) -> (scores, rows)``; returns the mean recall@k."""
        if self.exact is None:
            return 1.0
        aD, aI = drop_self(*search(self.queries, self.k + 1), self.self_rows, self.k)
        return recall_at_k(aD, aI, *self.exact, self.k)


def rows_outside(start: int, stop: int, n_total: int, n: int, rng: np.random.Generator
                 ) -> np.ndarray:
    """Up to ``n`` distinct rows of ``[0, n_total)`` outside ``[start, stop)``."""
    rows = sample_rows(0, n_total - (stop - start), n, rng)
    return np.where(rows >= start, rows + (stop - start), rows)


def blends(X: np.ndarray, n: int, metric: str, rng: np.random.Generator) -> np.ndarray:
    """Means of two random rows (as a two-seed recommendation queries), in index space."""
    pairs = rng.integers(0, len(X), (n, 2))
    return to_index_space((X[pairs[:, 0]] + X[pairs[:, 1]]) / 2, metric)


def _scope_rows(index: PartitionedIndex, vibe_id: int | None) -> tuple[int, int]:
    if vibe_id is None:
        return 0, index.ntotal
    p = index.partitions[vibe_id]
    return p.start, p.stop


def measure_recall(
    index: PartitionedIndex, X: np.ndarray, vibe_id: int | None, n_queries: int, seed: int,
    k: int = RECALL_K,
) -> float:
    """recall@k of ``index.search`` over one scope (all rows when ``vibe_id`` is None)
    against exact search, on ``n_queries`` rows of the scope drawn with ``seed``."""
    start, stop = _scope_rows(index, vibe_id)
    rows = sample_rows(start, stop, n_queries, np.random.default_rng(seed))
    probe = RecallProbe.of_rows(X, start, stop, index.metric, rows, k)
    return probe.recall(lambda Q, limit: index.search(Q, limit, vibe_id))


def _probes(index: PartitionedIndex, X: np.ndarray, vibe_id: int | None, n_queries: int,
            rng: np.random.Generator) -> dict[str, RecallProbe]:
    n, metric = index.ntotal, index.metric
    start, stop = _scope_rows(index, vibe_id)
    probes = {"rows": RecallProbe.of_rows(X, start, stop, metric,
                                          sample_rows(start, stop, n_queries, rng))}
    if vibe_id is None:
        Q = blends(X, n_queries // 2, metric, rng)
        probes["blends"] = RecallProbe(X, 0, n, metric, Q, np.full(len(Q), -1))
    elif stop - start < n:
        rows = rows_outside(start, stop, n, n_queries // 2, rng)
        probes["other_rows"] = RecallProbe.of_rows(X, start, stop, metric, rows)
    return probes


def tune_nprobe(index: PartitionedIndex, X: np.ndarray, target: float, n_queries: int,
                seed: int) -> dict:
    """Double each IVF scope's nprobe from 1 until recall@10 >= ``target`` on all of its
    probes (at nprobe = its list count the search is exhaustive, so this ends); returns
    the recall measured (the manifest's ``recall_at_10``).

    Probes: ``n_queries`` rows of the scope querying their own vectors (the recall
    recorded as ``all`` and ``vibes``); for the all-rows scope also half as many
    blends of two rows (``all_blends``), and for a vibe half as many rows of OTHER
    vibes searching this one (``vibes_other_rows``, a vibe named explicitly).
    """
    recall: dict = {"all": None, "all_blends": None, "vibes": {}, "vibes_other_rows": {}}
    for vibe_id in [None, *index.partitions]:
        rng = np.random.default_rng([seed, 0 if vibe_id is None else vibe_id + 1])
        n_lists = index.scope_lists(vibe_id)
        probes = _probes(index, X, vibe_id, n_queries, rng)
        nprobe = min(1, n_lists)
        while True:
            index.set_nprobe(vibe_id, nprobe)
            r = {name: probe.recall(lambda Q, limit, v=vibe_id: index.search(Q, limit, v))
                 for name, probe in probes.items()}
            if min(r.values()) >= target or nprobe >= n_lists:
                break
            nprobe = min(n_lists, nprobe * 2)
        name = "all" if vibe_id is None else f"vibe {vibe_id}"
        logger.info("ivf scope %s: nprobe %d of %d lists, recall@10 %s", name, nprobe,
                    n_lists, {k: round(v, 4) for k, v in r.items()})
        if min(r.values()) < target:
            logger.warning("ivf scope %s: recall@10 %.4f below the target %.3f even when "
                           "exhaustive (ties?)", name, min(r.values()), target)
        r = {k: round(v, 5) for k, v in r.items()}
        if vibe_id is None:
            recall["all"], recall["all_blends"] = r["rows"], r["blends"]
        else:
            recall["vibes"][str(vibe_id)] = r["rows"]
            if "other_rows" in r:
                recall["vibes_other_rows"][str(vibe_id)] = r["other_rows"]
    return recall

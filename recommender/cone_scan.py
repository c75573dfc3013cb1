"""Exact top-k of the rows passing a recommendation's filters, without scoring every row:
a walk over the lists' angle-sorted rows (:mod:`vibemap.indexer.cone_index`).

Every row of list l with ``|theta - phi_l| > d`` scores at most ``cos(d)`` (``phi_l`` the
query's angle to the list's axis). The walk takes, per list and by binary search, the rows
with ``|theta - phi_l| <= d`` it has not taken yet, checks the filters on those rows only,
scores them exactly (the same float32 products as a whole-scope scan: a row's score does
not depend on which other rows are scored with it) and stops once the k-th best passing
score beats ``cos(d)`` by more than the rounding of the scores; else it widens ``d`` to
where the k-th best found so far could be beaten. The answer is the same top k as scoring
every passing row (ties: the lower row first). A walk that would take more than
``max_share`` of the scope's rows gives up (None), and the caller scans the scope whole:
queries far from every row (targets, negatives) or filters few rows pass (it gives up at
once when the share of the rows taken so far that pass says k of them lie that far).

Figures: bench/RESULTS.md ("Serving a format-3 (memory-mapped) artifact").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vibemap.indexer.cone_index import KEY_STRIDE, Cones, list_bounds
from vibemap.recommender.ranking import row_scores

# float32 products of unit vectors: |computed - true| < 1e-6; the angles are float64
EPS = 1e-5
FIRST_ANGLE = 0.1  # radians: the first ring (a seed's 10th passing neighbour lies ~0.25 away at 1M)
MAX_SHARE = 0.1  # beyond this share of the scope's rows, one scan of them all is cheaper


def _segments(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[i], stops[i])`` (int64; empty where stop <= start)."""
    lengths = np.maximum(stops - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total, dtype=np.int64)


def scope_lists(spec: dict) -> dict[int | None, tuple[int, int]]:
    """Scope -> its [list_start, list_stop) from an IVF index's spec (lists grouped by
    vibe; None: every list)."""
    lists: dict[int | None, tuple[int, int]] = {None: (0, int(spec["nlist"]))}
    for lay in spec["lists"]:
        lists[int(lay["vibe_id"])] = (int(lay["list_start"]), int(lay["list_stop"]))
    return lists


class ConeScan:
    """The walk over one artifact's cones.

    X : float32 (n, D) unit index vectors; lists : scope (vibe id, None for every vibe) ->
    its [list_start, list_stop); max_share : the share of a scope's rows a walk may take
    (1: every row, it never gives up).
    """

    def __init__(self, cones: Cones, X: np.ndarray,
                 lists: dict[int | None, tuple[int, int]], max_share: float = MAX_SHARE
                 ) -> None:
        self.cones = cones
        self.X = X
        self.lists = lists
        self.max_share = max_share
        self.first, self.last = list_bounds(cones.keys, cones.offsets)

    def top(self, q: np.ndarray, k: int, vibe_id: int | None,
            passes: Callable[[np.ndarray], np.ndarray], exclude: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, scores) of the k best rows of the scope that ``passes`` (bool per row of
        an int64 row array) and are not in ``exclude`` (int64, a few rows), by score desc then
        row; fewer when fewer pass; None when the walk gives up (see the module)."""
        c = self.cones
        lo_l, hi_l = self.lists[vibe_id]
        base = np.arange(lo_l, hi_l) * KEY_STRIDE
        offsets = c.offsets[lo_l:hi_l + 1]
        size = int(offsets[-1] - offsets[0])
        budget = self.max_share * size
        first, last = self.first[lo_l:hi_l], self.last[lo_l:hi_l]
        phi = np.arccos(np.clip(c.axes[lo_l:hi_l] @ q.astype(np.float64), -1.0, 1.0))
        # the key range taken so far per list (empty: both at the list's end)
        got_lo, got_hi = offsets[1:].copy(), offsets[1:].copy()
        rows = np.empty(0, dtype=np.int64)
        scores = np.empty(0, dtype=np.float32)
        d, taken, kth = FIRST_ANGLE, 0, -np.inf
        while True:
            act = np.flatnonzero((first <= phi + d) & (last >= phi - d))
            lo = np.searchsorted(c.keys, base[act] + np.maximum(phi[act] - d, 0.0), "left")
            hi = np.searchsorted(c.keys, base[act] + np.minimum(phi[act] + d, np.pi), "right")
            fresh = got_lo[act] == got_hi[act]  # nothing taken from these lists yet
            old_lo = np.where(fresh, hi, got_lo[act])
            old_hi = np.where(fresh, hi, got_hi[act])
            # counted before they are listed: a ring widened 4x can hold most of the scope
            taken += int(np.maximum(old_lo - lo, 0).sum() + np.maximum(hi - old_hi, 0).sum())
            if taken > budget:
                return None
            pos = np.concatenate([_segments(lo, old_lo), _segments(old_hi, hi)])
            got_lo[act], got_hi[act] = np.minimum(lo, old_lo), np.maximum(hi, old_hi)
            # score what was taken (read in runs); only rows that can still enter the
            # top k are checked against the filters
            s_new = row_scores(c.vectors, pos, q, "cosine", size)
            pruned = len(rows) >= k
            if pruned:
                keep = s_new >= kth
                pos, s_new = pos[keep], s_new[keep]
            new = c.rows[pos]
            ok = passes(new)
            for row in exclude.tolist():  # the seeds and negatives: a few rows
                ok &= new != row
            rows = np.concatenate([rows, new[ok]])
            scores = np.concatenate([scores, s_new[ok]])
            if (budget < size and not pruned and len(rows) < k and d < np.pi
                    and len(rows) * budget < k * taken):
                return None  # at this share passing, k of them lie beyond the budget
            if len(rows) >= k:
                kth = np.partition(scores, len(scores) - k)[len(scores) - k]
                keep = scores >= kth
                rows, scores = rows[keep], scores[keep]
                if kth > np.cos(d) + EPS or d >= np.pi:
                    break
                # wide enough that what is found now beats every row left: the last round
                d = min(np.pi, float(np.arccos(max(-1.0, kth - 2 * EPS))))
            elif d >= np.pi:
                break
            else:
                d = min(np.pi, 4.0 * d)
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order]

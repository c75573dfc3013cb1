"""Ranking: exact top-k over a scope's rows with exclusions, filters and per-artist caps,
and MMR diversification (pure functions on numpy arrays and the vector index).

Scores are the index's similarities, larger is better (:mod:`vibemap.indexer.metric`):
inner product of unit z-score vectors for a cosine artifact, negative squared L2
distance of z-scores for a euclidean one. Ties go to the lower row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from vibemap.indexer.metric import similarities
from vibemap.indexer.vector_index import PartitionedIndex
from vibemap.recommender.flat_scan import FlatScan

# best(k): the exact top k of a ranking (rows, scores), score desc then row; fewer at its end
Best = Callable[[int], tuple[np.ndarray, np.ndarray]]
# the passing rows are scored alone (gathered) when fewer than 1 / SPARSE_SHARE of the
# scope pass, else the whole scope is scored: gathering ~20% of a scope's rows costs as much
# as scoring all of them (10M: 15% 79 ms, 20% 128, the whole 133; bench/RESULTS.md,
# "Measured design choices")
SPARSE_SHARE = 5


@dataclass(frozen=True)
class Scope:
    """The rows a query ranks: one vibe's contiguous range, or every row (vibe_id None)."""

    vibe_id: int | None
    vibe_name: str | None
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"vibe_id": self.vibe_id, "vibe_name": self.vibe_name}


@dataclass(frozen=True)
class Caps:
    """What may repeat among results: at most ``per_artist`` rows per ``artist_code``
    (None: no cap), and, unless ``version_code`` is None, one row per song (rows sharing a
    version code; the first met, i.e. the best-scoring, stands for it), never one of the
    songs in ``seed_versions``."""

    artist_code: np.ndarray
    per_artist: int | None = None
    version_code: np.ndarray | None = None
    seed_versions: frozenset[int] = frozenset()

    @property
    def bite(self) -> bool:
        """Whether the caps can drop rows (the candidate pool must then grow)."""
        return self.per_artist is not None or self.version_code is not None


def take(rows: Iterable[int], scores: Iterable[float], exclude: set[int], need: int,
         caps: Caps) -> tuple[list[int], list[float]]:
    """The first ``need`` of ``rows`` (ranked) that are real (>= 0), not in ``exclude``
    and pass ``caps``, with their scores."""
    out_rows: list[int] = []
    out_scores: list[float] = []
    counts: dict[int, int] = {}
    songs = set(caps.seed_versions)
    for r, s in zip(rows, scores, strict=True):
        if r < 0 or r in exclude:
            continue
        if caps.version_code is not None:
            song = int(caps.version_code[r])
            if song in songs:
                continue
        if caps.per_artist is not None:
            a = int(caps.artist_code[r])
            c = counts.get(a, 0)
            if c >= caps.per_artist:
                continue
            counts[a] = c + 1
        if caps.version_code is not None:
            songs.add(song)
        out_rows.append(r)
        out_scores.append(s)
        if len(out_rows) >= need:
            break
    return out_rows, out_scores


def top_rows(index: PartitionedIndex | FlatScan, X: np.ndarray, q: np.ndarray, scope: Scope,
             mask: np.ndarray | None, exclude: set[int], need: int, caps: Caps
             ) -> tuple[list[int], list[float]]:
    """The best ``need`` rows of ``scope`` by score desc (ties: lower row first) that pass
    ``mask`` (bool over the scope's rows), are not in ``exclude`` and pass ``caps``; the
    candidate pool widens until ``need`` rows pass or the scope is exhausted.

    Without a mask the index searches the scope (as exact as the index: flat is exact,
    IVF as its probe counts allow); with one, numpy scores every passing row of ``X``
    (float32 (n, d), index space) exactly.
    """
    size = scope.size
    if size == 0:
        return [], []
    if mask is None:
        # the scope's (sub-)index, doubling k as exclusions and caps bite
        k = min(size, need + len(exclude) + (need if caps.bite else 0))
        while True:
            D, rows_ = index.search(q[None, :], k, scope.vibe_id)
            scores, rows = D[0], rows_[0]
            order = np.lexsort((rows, -scores))
            picked = take(rows[order].tolist(), scores[order].tolist(), exclude, need, caps)
            if len(picked[0]) >= need or k >= size:
                return picked
            k = min(size, 2 * k)
    return take_ranked(scan_best(X, q, scope, mask, exclude, index.metric), need, caps)


def row_scores(X: np.ndarray, rows: np.ndarray, q: np.ndarray, metric: str, scope_size: int
               ) -> np.ndarray:
    """The scores of ``X[rows]``, bit for bit those of one product over a whole scope of
    ``scope_size`` rows holding them: numpy scores a row the same wherever it sits in a
    product of 2 rows or more (vectors of up to 11 dimensions), but takes a product of one
    row through a dot of another summation order; so one row of a larger scope is scored
    as two. The rows are gathered by ``np.take``: the same array as ``X[rows]``, 2-5x
    sooner for 3-30% of 10M rows (bench/RESULTS.md, "Session 6: restrictive filters")."""
    if len(rows) == 1 and scope_size > 1:
        return similarities(np.take(X, np.repeat(rows, 2), axis=0), q, metric)[:1]
    return similarities(np.take(X, rows, axis=0), q, metric)


def take_ranked(best: Best, need: int, caps: Caps) -> tuple[list[int], list[float]]:
    """The first ``need`` rows passing ``caps`` of a ranking that ``best(k)`` gives k at
    a time (its exact top k, or all of it when shorter); k doubles as the caps bite."""
    k = need
    while True:
        rows, scores = best(k)
        picked = take(rows.tolist(), scores.tolist(), set(), need, caps)
        if len(picked[0]) >= need or len(rows) < k:
            return picked
        k *= 2


def scan_best(X: np.ndarray, q: np.ndarray, scope: Scope, mask: np.ndarray,
              exclude: set[int], metric: str) -> Best:
    """``best(k)`` over the rows of ``scope`` that pass ``mask`` (bool over the scope) and
    are not in ``exclude``, every one of them scored exactly (numpy, index space): the
    passing rows alone when they are few, else the whole scope at once (a row's score is
    the same either way)."""
    local = np.flatnonzero(mask)
    if exclude and len(local):
        ex = np.fromiter(exclude, dtype=np.int64) - scope.start
        pos = np.minimum(np.searchsorted(local, ex), len(local) - 1)
        local = np.delete(local, pos[local[pos] == ex])
    if len(local) * SPARSE_SHARE < scope.size:
        s = row_scores(X, local + scope.start, q, metric, scope.size)
    else:
        s = similarities(X[scope.start:scope.stop], q, metric)[local]
    m = len(local)

    def best(k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, m)
        part = np.arange(m)
        if 0 < k < m:  # every row tied with the k-th (argpartition keeps any of them)
            part = np.flatnonzero(s >= s[np.argpartition(-s, k - 1)[k - 1]])
        part = part[np.lexsort((local[part], -s[part]))][:k]
        return local[part] + scope.start, s[part]

    return best


def mmr(V: np.ndarray, S: np.ndarray, codes: np.ndarray, need: int, diversity: float,
        metric: str, max_per_artist: int | None) -> list[int]:
    """Maximal marginal relevance over a candidate pool: repeatedly pick the argmax of
    (1 - diversity) * sim(query) - diversity * max sim to the picked.

    V : float64 (m, d) the candidates' index vectors; S : float64 (m,) their scores
    (sorted desc); codes : (m,) their artist codes. Returns the picked positions, in
    order (fewer than ``need`` when the caps run out of candidates).
    """
    available = np.ones(len(V), dtype=bool)
    max_sim = np.full(len(V), -np.inf)
    counts: dict[int, int] = {}
    chosen: list[int] = []
    for _ in range(min(need, len(V))):
        value = (1.0 - diversity) * S - diversity * max_sim if chosen else S.copy()
        value[~available] = -np.inf
        i = int(np.argmax(value))
        if not available[i]:
            break
        available[i] = False
        chosen.append(i)
        if max_per_artist is not None:
            a = int(codes[i])
            counts[a] = counts.get(a, 0) + 1
            if counts[a] >= max_per_artist:
                available[codes == a] = False
        np.maximum(max_sim, similarities(V, V[i], metric), out=max_sim)
    return chosen

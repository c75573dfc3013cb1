"""Do audio neighbours share genres more often than random pairs do? Agreement@k of a
sample of tracks against a random-pair baseline, on genres parsed by
:mod:`vibemap.indexer.genre_labels` (see :mod:`vibemap.indexer.validation.genres`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
from scipy.sparse import csr_matrix

from vibemap.indexer.validation.genres import Genres, incidence, n_tracks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgreementScore:
    """Share of (query, neighbour) pairs sharing a genre, for one metric."""

    metric: str
    agreement: float
    baseline: float  # same share for random pairs
    lift: float | None  # agreement / baseline; None when the baseline is 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "agreement": round(self.agreement, 4),
            "baseline": round(self.baseline, 4),
            "lift": None if self.lift is None else round(self.lift, 3),
        }


@dataclass(frozen=True)
class GenreAgreement:
    """Neighbour genre agreement@k for cosine and Euclidean neighbours in z-space."""

    n_neighbours: int
    sample_size: int
    n_candidates: int  # tracks with a genre: the queries' population and the search space
    scores: tuple[AgreementScore, ...]
    search: str = "flat"  # a key of NEIGHBOUR_SEARCH

    def score(self, metric: str) -> AgreementScore:
        for s in self.scores:
            if s.metric == metric:
                return s
        raise ValueError(f"unknown metric {metric!r}; have {[s.metric for s in self.scores]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_neighbours": self.n_neighbours,
            "sample_size": self.sample_size,
            "n_candidates": self.n_candidates,
            "definition": (
                f"share of each sampled track's {self.n_neighbours} nearest neighbours (self "
                "excluded, among tracks with a genre) sharing at least one genre token; the "
                "baseline is the same share for as many random pairs"
            ),
            **{s.metric: s.to_dict() for s in self.scores},
            # the flat path's metrics.json stays as before this key existed
            **({} if self.search == "flat" else {"neighbours": NEIGHBOUR_SEARCH[self.search]}),
        }


def neighbour_genre_agreement(
    X: np.ndarray,
    genres: Genres,
    *,
    n_neighbours: int = 10,
    sample_size: int = 2_000,
    seed: int = 0,
    search: str = "flat",
) -> GenreAgreement:
    """Do audio neighbours share genres? Agreement@k against a random-pair baseline.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features), z-scores.
    genres : the parsed genres of the n_tracks (``genres.Genres``).
    n_neighbours : neighbours per query (k), the query itself excluded.
    sample_size : seeded queries drawn from the tracks with a genre (all when fewer).
    seed : seeds the queries and the random pairs.
    search : how the exact neighbours are found (see ``NEIGHBOUR_SEARCH``).

    Returns
    -------
    GenreAgreement
        ``cosine``: inner product of L2-normalised z-scores (faiss IndexFlatIP);
        ``euclidean``: L2 on z-scores (IndexFlatL2). Only tracks with a genre are searched,
        so a neighbour without genre never counts as a miss. Random pairs: each query with
        ``n_neighbours`` uniformly drawn other tracks with a genre.
    """
    X = np.asarray(X)
    n = n_tracks(genres)
    if X.ndim != 2 or X.shape[0] != n:
        raise ValueError(f"X must have shape ({n}, n_features) like genres, got {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise ValueError("X must be numeric and finite")
    if n_neighbours < 1:
        raise ValueError(f"n_neighbours must be >= 1, got {n_neighbours}")
    if sample_size < 1:
        raise ValueError(f"sample_size must be >= 1, got {sample_size}")
    if search not in NEIGHBOUR_SEARCH:
        raise ValueError(f"search must be one of {list(NEIGHBOUR_SEARCH)}, got {search!r}")

    tokens, rows, _ = incidence(genres)
    candidates = np.unique(rows)
    m = candidates.size
    if m <= n_neighbours:
        raise ValueError(f"need more than n_neighbours={n_neighbours} tracks with a genre, got {m}")
    # Incidence of candidates (position in ``candidates``) x token.
    T = csr_matrix(
        (np.ones(tokens.size, dtype=np.float32), (np.searchsorted(candidates, rows), tokens)),
        shape=(m, int(tokens.max()) + 1),
    )
    T.data[:] = 1.0  # a token repeated in one cell counts once

    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(m, size=min(sample_size, m), replace=False))
    Xc = np.ascontiguousarray(X[candidates], dtype=np.float32)

    scores = []
    random_b = rng.integers(0, m - 1, size=(queries.size, n_neighbours))
    random_b += random_b >= queries[:, None]  # never the query itself
    baseline = _shared_share(T, np.repeat(queries, n_neighbours), random_b.ravel())
    for metric in ("cosine", "euclidean"):
        vectors = Xc
        if metric == "cosine":
            vectors = Xc.copy()
            faiss.normalize_L2(vectors)
        ids = _nearest(vectors, queries, n_neighbours + 1, metric, search)
        neighbours = _drop_self(ids, queries)
        agreement = _shared_share(T, np.repeat(queries, n_neighbours), neighbours.ravel())
        lift = agreement / baseline if baseline > 0 else None
        scores.append(AgreementScore(metric, agreement, baseline, lift))
        logger.info(
            "genre agreement@%d (%s): %.3f vs random %.3f",
            n_neighbours,
            metric,
            agreement,
            baseline,
        )
    return GenreAgreement(
        n_neighbours=int(n_neighbours),
        sample_size=int(queries.size),
        n_candidates=int(m),
        scores=tuple(scores),
        search=search,
    )


NEIGHBOUR_SEARCH = {
    "flat": "faiss flat index: every query against every candidate",
    "kdtree": "k-d tree over the candidates (scipy cKDTree; cosine as L2 on unit vectors)",
}
"""Two exact routes to the same neighbours (up to the order of equal distances). Flat is
the build's path up to the exact budget, kept so those figures do not move. Above it the
k-d tree: at 10M tracks the flat scans of 2,000 queries took 416 + 357 s under load, where
the tree prunes to a few leaves per query in 9-10 dimensions (at 1M: 8 s against ~70 s
per metric, bench/RESULTS.md, "Validation budget")."""


def _nearest(vectors: np.ndarray, queries: np.ndarray, k: int, metric: str, search: str
             ) -> np.ndarray:
    """Rows (q, k) of the ``k`` nearest candidates of each query row, nearest first;
    ``metric`` "cosine" expects L2-normalised ``vectors``."""
    if search == "kdtree":
        from scipy.spatial import cKDTree

        # on unit vectors |a - b|^2 = 2 - 2 cos(a, b): the L2 order is the cosine order
        tree = cKDTree(vectors, leafsize=32, balanced_tree=False, compact_nodes=False)
        return tree.query(vectors[queries], k=k, workers=-1)[1].astype(np.int64)
    index: faiss.Index = (faiss.IndexFlatIP if metric == "cosine"
                          else faiss.IndexFlatL2)(vectors.shape[1])
    index.add(vectors)
    return index.search(vectors[queries], k)[1]


def _drop_self(ids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Remove each query from its own result row (or the last hit when ties hid it)."""
    is_self = ids == queries[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    first = is_self.cumsum(axis=1) == 1
    drop = is_self & first  # exactly one entry per row
    return ids[~drop].reshape(ids.shape[0], ids.shape[1] - 1)


def _shared_share(T: csr_matrix, a: np.ndarray, b: np.ndarray) -> float:
    """Share of pairs (a[i], b[i]) with at least one token in common."""
    if a.size == 0:
        return 0.0
    shared = np.asarray(T[a].multiply(T[b]).sum(axis=1)).ravel() > 0
    return float(shared.mean())

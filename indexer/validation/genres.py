"""Genres against vibes: the genre x vibe map, and whether audio neighbours share genres
more often than random pairs do. Both take genre cells already parsed by
:mod:`vibemap.indexer.genre_labels` (the one parser).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
from scipy.sparse import csr_matrix
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from vibemap.indexer.validation.checks import as_labels

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- genre x vibe


@dataclass(frozen=True, eq=False)
class GenreVibeMap:
    """Genre x vibe contingency over genres with at least ``min_tracks`` tracks."""

    genres: tuple[str, ...]  # rows, by decreasing track count, then name
    vibe_ids: tuple[int, ...]  # columns
    counts: np.ndarray  # int64 (n_genres, n_vibes): tracks of the vibe carrying the genre
    vibe_genre_tracks: np.ndarray  # int64 (n_vibes,): tracks of the vibe with any genre
    min_tracks: int
    n_tracks: int
    n_tracks_with_genre: int
    nmi: float  # primary genre vs vibe, tracks with a genre
    ari: float
    n_primary_genres: int  # distinct primary genres in that comparison
    limit: int  # genres listed per vibe

    @property
    def genre_tracks(self) -> np.ndarray:
        """int64 (n_genres,): tracks carrying each genre."""
        return self.counts.sum(axis=1)

    @property
    def dominant_vibe(self) -> np.ndarray:
        """int64 (n_genres,): the vibe holding most of each genre's tracks."""
        return np.asarray(self.vibe_ids, dtype=np.int64)[self.counts.argmax(axis=1)]

    @property
    def purity(self) -> np.ndarray:
        """float64 (n_genres,): share of each genre's tracks in its dominant vibe."""
        totals = self.genre_tracks
        return self.counts.max(axis=1) / np.where(totals > 0, totals, 1)

    @property
    def lift(self) -> np.ndarray:
        """float64 (n_genres, n_vibes): P(genre | vibe) / P(genre), tracks with a genre."""
        p_given_vibe = self.counts / np.maximum(self.vibe_genre_tracks, 1)[None, :]
        p_genre = self.genre_tracks / max(self.n_tracks_with_genre, 1)
        return p_given_vibe / np.where(p_genre > 0, p_genre, 1.0)[:, None]

    def top_genres(self, vibe_id: int, by: str = "count") -> list[dict[str, Any]]:
        """The vibe's ``limit`` genres with most tracks (``by="count"``) or highest lift."""
        if vibe_id not in self.vibe_ids:
            raise ValueError(f"unknown vibe {vibe_id}; vibes are {list(self.vibe_ids)}")
        if by not in ("count", "lift"):
            raise ValueError(f"by must be 'count' or 'lift', got {by!r}")
        col = self.vibe_ids.index(vibe_id)
        counts, lift = self.counts[:, col], self.lift[:, col]
        key = counts if by == "count" else lift
        order = [g for g in np.lexsort((np.arange(key.size), -key)) if counts[g] > 0]
        size = max(int(self.vibe_genre_tracks[col]), 1)
        return [
            {
                "genre": self.genres[g],
                "count": int(counts[g]),
                "share": round(float(counts[g] / size), 4),
                "lift": round(float(lift[g]), 3),
            }
            for g in order[: self.limit]
        ]

    def to_dict(self) -> dict[str, Any]:
        dominant, purity, totals = self.dominant_vibe, self.purity, self.genre_tracks
        return {
            "min_tracks": self.min_tracks,
            "n_tracks": self.n_tracks,
            "n_tracks_with_genre": self.n_tracks_with_genre,
            "n_genres": len(self.genres),
            "vibe_ids": list(self.vibe_ids),
            "genres": list(self.genres),
            "counts": self.counts.tolist(),
            "vibe_genre_tracks": self.vibe_genre_tracks.tolist(),
            "per_genre": [
                {
                    "genre": genre,
                    "tracks": int(totals[g]),
                    "dominant_vibe": int(dominant[g]),
                    "purity": round(float(purity[g]), 4),
                }
                for g, genre in enumerate(self.genres)
            ],
            "top_genres": {str(v): self.top_genres(v, "count") for v in self.vibe_ids},
            "distinctive_genres": {str(v): self.top_genres(v, "lift") for v in self.vibe_ids},
            "primary_genre_vs_vibe": {
                "nmi": round(self.nmi, 4),
                "ari": round(self.ari, 4),
                "n_primary_genres": self.n_primary_genres,
            },
        }


def genre_vibe_map(
    genres: Sequence[Sequence[str]],
    labels: np.ndarray,
    *,
    min_tracks: int = 50,
    limit: int = 10,
) -> GenreVibeMap:
    """Cross genres with vibes.

    Parameters
    ----------
    genres : n_tracks token lists (see :func:`vibemap.indexer.genre_labels.split_genres`);
        a track counts once for each of its genres.
    labels : int array of shape (n_tracks,), the vibe of each track.
    min_tracks : a genre enters the map when at least this many tracks carry it.
    limit : genres listed per vibe in :meth:`GenreVibeMap.top_genres`.

    Returns
    -------
    GenreVibeMap
        Also NMI and ARI between the vibe and the primary (first) genre of every track that
        has a genre; NMI grows with the number of distinct genres, so compare it between
        runs on the same catalogue only.
    """
    n = len(genres)
    labels = as_labels(labels, n)
    if min_tracks < 1:
        raise ValueError(f"min_tracks must be >= 1, got {min_tracks}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")

    vibe_ids, vibe_index = np.unique(labels, return_inverse=True)
    tokens, rows, vocabulary = _incidence(genres)
    with_genre = np.zeros(n, dtype=bool)
    with_genre[rows] = True
    token_tracks = np.bincount(tokens, minlength=len(vocabulary))
    names = np.asarray(vocabulary, dtype=object)
    kept = [g for g in np.lexsort((names, -token_tracks)) if token_tracks[g] >= min_tracks]
    position = np.full(len(vocabulary), -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    counts = np.zeros((len(kept), vibe_ids.size), dtype=np.int64)
    mask = position[tokens] >= 0
    np.add.at(counts, (position[tokens[mask]], vibe_index[rows[mask]]), 1)
    vibe_genre_tracks = np.bincount(vibe_index[with_genre], minlength=vibe_ids.size)

    primary_rows = np.flatnonzero(with_genre)
    primary = [genres[r][0] for r in primary_rows] if primary_rows.size else []
    if primary_rows.size >= 2:
        nmi = float(normalized_mutual_info_score(primary, labels[primary_rows]))
        ari = float(adjusted_rand_score(primary, labels[primary_rows]))
    else:
        nmi = ari = 0.0
    result = GenreVibeMap(
        genres=tuple(str(vocabulary[g]) for g in kept),
        vibe_ids=tuple(int(v) for v in vibe_ids),
        counts=counts,
        vibe_genre_tracks=vibe_genre_tracks.astype(np.int64),
        min_tracks=int(min_tracks),
        n_tracks=int(n),
        n_tracks_with_genre=int(with_genre.sum()),
        nmi=nmi,
        ari=ari,
        n_primary_genres=len(set(primary)),
        limit=int(limit),
    )
    logger.info(
        "genre map: %d genres with >= %d tracks; primary genre vs vibe NMI %.3f ARI %.3f",
        len(kept),
        min_tracks,
        nmi,
        ari,
    )
    return result


# --------------------------------------------------------------------------- agreement


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
    genres: Sequence[Sequence[str]],
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
    genres : n_tracks token lists (see :func:`vibemap.indexer.genre_labels.split_genres`).
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
    n = len(genres)
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

    tokens, rows, _ = _incidence(genres)
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


def _incidence(genres: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(token id, track row) pairs, one per distinct token of a track, and the vocabulary."""
    vocabulary: dict[str, int] = {}
    token_ids: list[int] = []
    rows: list[int] = []
    for row, cell in enumerate(genres):
        if isinstance(cell, str):
            raise ValueError(f"genres[{row}] is a string; pass token lists (see split_genres)")
        for token in dict.fromkeys(cell):
            token_ids.append(vocabulary.setdefault(token, len(vocabulary)))
            rows.append(row)
    return (
        np.asarray(token_ids, dtype=np.int64),
        np.asarray(rows, dtype=np.int64),
        list(vocabulary),
    )


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

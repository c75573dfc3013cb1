"""Genres against vibes: the genre x vibe map, and the genre incidence it and the neighbour
agreement (:mod:`vibemap.indexer.validation.genre_agreement`) rest on. Both take genres
already parsed by :mod:`vibemap.indexer.genre_labels` (the one parser): its ``GenreCodes``
(each distinct cell parsed once; what the build passes) or one token list per track.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.validation.checks import as_labels

Genres = Sequence[Sequence[str]] | GenreCodes
"""Parsed genres of every track: ``GenreCodes``, or one token list per track."""

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
    genres: Genres,
    labels: np.ndarray,
    *,
    min_tracks: int = 50,
    limit: int = 10,
) -> GenreVibeMap:
    """Cross genres with vibes.

    Parameters
    ----------
    genres : the parsed genres of the n_tracks (``Genres``); a track counts once for each
        of its genres.
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
    n = n_tracks(genres)
    labels = as_labels(labels, n)
    if min_tracks < 1:
        raise ValueError(f"min_tracks must be >= 1, got {min_tracks}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")

    vibe_ids, vibe_index = np.unique(labels, return_inverse=True)
    tokens, rows, vocabulary = incidence(genres)
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
    # the first genre of each track, as its token id: the same partition as the label
    # itself (ids are one-to-one with labels), without sorting n strings
    primary = tokens[np.searchsorted(rows, primary_rows)] if primary_rows.size else tokens[:0]
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
        n_primary_genres=int(np.unique(primary).size),
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


def n_tracks(genres: Genres) -> int:
    return genres.n_rows if isinstance(genres, GenreCodes) else len(genres)


def incidence(genres: Genres) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(token id, track row) pairs, one per distinct token of a track, rows ascending and
    each track's tokens in its cell's order, and the vocabulary (ids by first appearance).
    From ``GenreCodes`` the same pairs come without a Python loop over the rows."""
    if isinstance(genres, GenreCodes):
        rows = np.repeat(np.arange(genres.n_rows, dtype=np.int64), np.diff(genres.offsets))
        return genres.codes.astype(np.int64), rows, list(genres.vocabulary)
    vocabulary: dict[str, int] = {}
    token_ids: list[int] = []
    rows_: list[int] = []
    for row, cell in enumerate(genres):
        if isinstance(cell, str):
            raise ValueError(f"genres[{row}] is a string; pass token lists (see split_genres)")
        for token in dict.fromkeys(cell):
            token_ids.append(vocabulary.setdefault(token, len(vocabulary)))
            rows_.append(row)
    return (
        np.asarray(token_ids, dtype=np.int64),
        np.asarray(rows_, dtype=np.int64),
        list(vocabulary),
    )

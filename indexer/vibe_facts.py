"""What ``GET /v1/vibes`` shows of each vibe, computed once at build time (``vibes.json``).

Per vibe: id, name, slug, size, share, signature, centroid (original units and z-scores),
per-feature quantiles, top genres and the rows of its most typical tracks. The service
only reads these; it turns ``typical_rows`` into track summaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from vibemap.indexer.folding import slugify
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.personalities import Scaler

TOP_GENRES = 5
TYPICAL_TRACKS = 5
DISTANCE_BLOCK = 1 << 16  # rows per block of typical_rows' distances
QUANTILES = (("p10", 10), ("p25", 25), ("median", 50), ("p75", 75), ("p90", 90))


def feature_quantiles(R: np.ndarray, feature_names: Sequence[str], digits: int = 6
                      ) -> dict[str, dict[str, float]]:
    """p10, p25, median, p75 and p90 of each feature (``{}`` for no rows).

    R : float64 array of shape (n_rows, n_features), original units.
    """
    if len(R) == 0:
        return {}
    q = np.percentile(R, [p for _, p in QUANTILES], axis=0)
    return {f: {key: round(float(q[i, j]), digits) for i, (key, _) in enumerate(QUANTILES)}
            for j, f in enumerate(feature_names)}


def nearest_rows(Z: np.ndarray, centroid: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` rows of ``Z`` nearest ``centroid`` (squared Euclidean),
    nearest first, ties by position.

    Z : float64 array of shape (n_rows, n_features), z-scores; centroid : (n_features,).
    """
    return np.argsort(_squared_distances(Z, centroid), kind="stable")[:n]


def _squared_distances(Z: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    return ((Z - np.asarray(centroid)) ** 2).sum(axis=1)


def top_genres(genres: GenreCodes, start: int, stop: int, limit: int = TOP_GENRES
               ) -> list[dict]:
    """The ``limit`` commonest labels of rows ``[start, stop)`` as ``{"genre", "count"}``;
    ties go to the label met first (row order, then cell order)."""
    codes = genres.codes[genres.offsets[start]:genres.offsets[stop]]
    if not len(codes):
        return []
    labels, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:limit]
    return [{"genre": genres.vocabulary[int(labels[i])], "count": int(counts[i])}
            for i in order]


def typical_rows(F: np.ndarray, scaler: Scaler, start: int, stop: int,
                 centroid_z: Sequence[float], n: int = TYPICAL_TRACKS) -> list[int]:
    """The ``n`` rows of ``[start, stop)`` nearest the vibe's stored centroid in z-space,
    nearest first (the stored, rounded centroid, so that a reader gets the same rows)."""
    if stop <= start or len(centroid_z) != F.shape[1]:
        return []
    R, centroid = F[start:stop], np.asarray(centroid_z)
    mean, scale = np.asarray(scaler.mean), np.asarray(scaler.scale, dtype=np.float64)
    if len(R) <= DISTANCE_BLOCK:
        d = _squared_distances((R - mean) / scale, centroid)
    else:  # without three n x d temporaries (GBs for a vibe of millions of rows)
        d = _distances_by_column(R, mean, scale, centroid)
    return [start + int(i) for i in np.argsort(d, kind="stable")[:n]]


def _distances_by_column(R: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                         centroid: np.ndarray) -> np.ndarray:
    """``_squared_distances((R - mean) / scale, centroid)`` for a Fortran-ordered ``R`` of
    two rows or more, a block of rows at a time: numpy sums such a matrix over axis 1 by
    adding its columns to each row in order (tests/test_scaling.py), which this does."""
    d = np.empty(len(R))
    for a in range(0, len(R), DISTANCE_BLOCK):
        block = R[a : a + DISTANCE_BLOCK]
        total = None
        for j in range(R.shape[1]):
            term = ((block[:, j] - mean[j]) / scale[j] - centroid[j]) ** 2
            total = term if total is None else np.add(total, term, out=total)
        d[a : a + len(block)] = total
    return d


def vibe_facts(
    features: Sequence[str],
    F: np.ndarray,
    scaler: Scaler,
    vibes: Sequence[Mapping],
    partitions: Mapping[int, tuple[int, int]],
    genres: GenreCodes,
) -> list[dict]:
    """Every vibe's facts, by ascending vibe id.

    F : float64 array of shape (n_tracks, n_features), original units, rows in artifact
        order (sorted by vibe). vibes : the entries of centroids.json. partitions : vibe id
        -> (start, stop) rows. genres : the parsed genres of the same rows.
    """
    out = []
    for d in sorted(vibes, key=lambda v: int(v["vibe_id"])):
        v = int(d["vibe_id"])
        start, stop = partitions.get(v, (0, 0))
        centroid = d.get("centroid") or {}
        centroid_z = list(d.get("centroid_z") or [])
        name = str(d["name"])
        out.append({
            "vibe_id": v,
            "name": name,
            "slug": slugify(name),
            "size": int(d.get("size", stop - start)),
            "share": float(d.get("share", 0.0)),
            "signature": str(d.get("signature", "")),
            "centroid": {f: float(centroid[f]) for f in features if f in centroid},
            "centroid_z": {f: float(z) for f, z in zip(features, centroid_z, strict=False)},
            "profile": feature_quantiles(F[start:stop], features),
            "top_genres": top_genres(genres, start, stop),
            "typical_rows": typical_rows(F, scaler, start, stop, centroid_z),
        })
    return out


def vibes_document(features: Sequence[str], facts: list[dict]) -> dict:
    """The content of vibes.json."""
    return {"features": list(features),
            "top_genres_limit": TOP_GENRES, "typical_tracks_limit": TYPICAL_TRACKS,
            "vibes": facts}

"""Scaling, K-Means++ personalities and their data-driven names.

Pure functions on arrays: no I/O, no global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from vibemap.indexer.degenerate import near_constant_from_moments


@dataclass(frozen=True)
class Scaler:
    """Z-score transform (the same maths as sklearn's StandardScaler, stored as plain arrays)."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, F: np.ndarray) -> np.ndarray:
        """F : float array (n, d) in original units -> float32 (n, d) z-scores."""
        return self.transform_consuming(np.asarray(F, dtype=np.float64) - self.mean,
                                        centred=True)

    def transform_consuming(self, F: np.ndarray, centred: bool = False) -> np.ndarray:
        """:meth:`transform` of a float64 array the caller gives up: centred and divided
        where it is (the same operations, so the same bits), one float64 n x d array
        instead of two (0.7 GB each at 10M rows)."""
        if not centred:
            F -= self.mean
        F /= self.scale
        return F.astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) * self.scale + self.mean

    def to_dict(self, feature_names: Sequence[str]) -> dict:
        return {
            "features": list(feature_names),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        return cls(
            np.asarray(data["mean"], dtype=np.float64), np.asarray(data["scale"], dtype=np.float64)
        )


def fit_scaler(F: np.ndarray) -> Scaler:
    """Population mean and standard deviation per column; a column that is constant up
    to float noise gets scale 1, so its noise is not blown up to unit variance (see
    vibemap.indexer.degenerate).

    F : float array of shape (n_tracks, n_features), original units.
    """
    F = np.asarray(F, dtype=np.float64)
    return scaler_from_moments(F.mean(axis=0), F.std(axis=0))


def scaler_from_moments(mean: np.ndarray, std: np.ndarray) -> Scaler:
    """:func:`fit_scaler` from each column's mean and population std, computed elsewhere
    (e.g. distributed by the Spark build)."""
    mean = np.asarray(mean, dtype=np.float64)
    scale = np.array(std, dtype=np.float64)
    scale[near_constant_from_moments(mean, scale)] = 1.0
    return Scaler(mean, scale)


@dataclass(frozen=True)
class Personalities:
    """A K-Means++ fit, relabelled so vibe 0 is the largest (stable across runs)."""

    labels: np.ndarray  # int32 (n,)
    centroids: np.ndarray  # float64 (K, d), z-scores
    inertia: float
    n_iter: int

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_clusters)


def fit_personalities(
    Z: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10
) -> Personalities:
    """K-Means++ on z-scores.

    Z : float32 array of shape (n_tracks, n_features).
    Clusters are renumbered by decreasing size (ties by centroid) so the ids do not
    depend on K-Means's internal order.
    """
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    if n_clusters > len(Z):
        raise ValueError(f"n_clusters={n_clusters} is larger than the {len(Z)} tracks")
    from sklearn.cluster import KMeans  # here: the service imports this module, not sklearn

    km = KMeans(n_clusters=n_clusters, init="k-means++", n_init=n_init, random_state=seed)
    # One OpenMP thread: on 9-D data each Lloyd step is tiny, and thread hand-offs cost
    # more than they save (bench/RESULTS.md, "Measured design choices").
    with threadpool_limits(limits=1, user_api="openmp"):
        labels = km.fit_predict(Z)
    centroids = km.cluster_centers_.astype(np.float64)
    order = cluster_order(centroids, np.bincount(labels, minlength=n_clusters))
    remap = np.empty(n_clusters, dtype=np.int32)
    remap[order] = np.arange(n_clusters, dtype=np.int32)
    return Personalities(
        labels=remap[labels].astype(np.int32),
        centroids=centroids[order],
        inertia=float(km.inertia_),
        n_iter=int(km.n_iter_),
    )


def cluster_order(centroids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The vibe numbering rule: old cluster ids by decreasing size, ties by centroid, so
    that ids do not depend on a K-Means implementation's internal order (new id ``i`` is
    old id ``order[i]``).

    centroids : float array (K, d); sizes : int array (K,).
    """
    return np.lexsort((*np.asarray(centroids).T[::-1], -np.asarray(sizes)))


# Archetypes: a name and the z-score direction that earns it. A cluster gets the
# archetype its centroid points at most strongly (one archetype per cluster, chosen
# jointly); clusters no archetype fits well get a descriptive name instead.
ARCHETYPES: dict[str, dict[str, float]] = {
    "Chill Acoustic": {"acousticness": 1.0, "energy": -1.0, "loudness": -0.7},
    "Party": {"danceability": 1.0, "energy": 0.6, "valence": 0.8, "acousticness": -0.4},
    "Vocal / Live": {"speechiness": 1.0, "liveness": 0.8},
    "Instrumental": {"instrumentalness": 1.0, "speechiness": -0.3},
    "Loud & Intense": {"energy": 1.0, "loudness": 0.9, "acousticness": -0.6, "danceability": -0.4},
    "Rap & Spoken Word": {"speechiness": 1.0, "danceability": 0.5, "liveness": -0.2},
    "Live Sessions": {"liveness": 1.0, "speechiness": -0.2},
    "Melancholy": {"valence": -1.0, "danceability": -0.6, "energy": -0.3},
    "Feel-Good": {"valence": 1.0, "danceability": 0.4, "tempo": 0.2},
    "Upbeat Fast": {"tempo": 1.0, "energy": 0.5},
    "Slow Groove": {"tempo": -1.0, "danceability": 0.4, "energy": -0.2},
    "Dark Electronic": {"instrumentalness": 0.8, "energy": 0.7, "valence": -0.8},
}

# minimum projection of a centroid onto an archetype's unit direction to earn the name
ARCHETYPE_MIN_SCORE = 0.35

FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "energy": ("High-Energy", "Low-Energy"),
    "danceability": ("Danceable", "Undanceable"),
    "loudness": ("Loud", "Quiet"),
    "speechiness": ("Wordy", "Sung"),
    "acousticness": ("Acoustic", "Electric"),
    "instrumentalness": ("Instrumental", "Vocal"),
    "liveness": ("Live", "Studio"),
    "valence": ("Bright", "Dark"),
    "tempo": ("Fast", "Slow"),
}


def _archetype_matrix(feature_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    names, rows = [], []
    for name, weights in ARCHETYPES.items():
        vec = np.array([weights.get(f, 0.0) for f in feature_names])
        if np.linalg.norm(vec) == 0:
            continue
        names.append(name)
        rows.append(vec / np.linalg.norm(vec))
    return names, np.array(rows).reshape(len(rows), len(feature_names))


def _descriptive_name(centroid: np.ndarray, feature_names: Sequence[str], n_words: int) -> str:
    order = np.argsort(-np.abs(centroid), kind="stable")[:n_words]
    words = []
    for j in order:
        high, low = FEATURE_WORDS.get(
            feature_names[j], (f"High {feature_names[j]}", f"Low {feature_names[j]}")
        )
        words.append(high if centroid[j] >= 0 else low)
    return " ".join(words) if n_words > 1 or abs(centroid[order[0]]) > 0.25 else "Mainstream"


def name_vibes(centroids: np.ndarray, feature_names: Sequence[str]) -> list[str]:
    """Unique, readable names for cluster centroids (z-scores), from their signatures.

    centroids : float array of shape (K, n_features), z-scores.
    Names depend only on the centroids, not on cluster numbers: permuting the rows
    permutes the names.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    k = len(centroids)
    arch_names, A = _archetype_matrix(feature_names)
    scores = centroids @ A.T  # (K, n_archetypes): projection onto each direction
    from scipy.optimize import linear_sum_assignment  # here, as KMeans: a build-time cost

    rows, cols = linear_sum_assignment(-scores)
    names: list[str | None] = [None] * k
    for r, c in zip(rows, cols, strict=True):
        if scores[r, c] >= ARCHETYPE_MIN_SCORE:
            names[r] = arch_names[c]
    taken = {n for n in names if n}
    for i in np.argsort(-np.abs(centroids).max(axis=1), kind="stable"):
        if names[i]:
            continue
        for n_words in range(1, len(feature_names) + 1):
            candidate = _descriptive_name(centroids[i], feature_names, n_words)
            if candidate not in taken:
                break
        else:  # identical centroids: nothing in the data tells them apart
            candidate = f"{candidate} {i + 1}"
        names[i] = candidate
        taken.add(candidate)
    return [str(n) for n in names]


def describe_signature(centroid: np.ndarray, feature_names: Sequence[str], top: int = 3) -> str:
    """Plain words for a centroid: its strongest z-score deviations, e.g. 'acousticness +1.9σ'."""
    order = np.argsort(-np.abs(centroid), kind="stable")[:top]
    return ", ".join(f"{feature_names[j]} {centroid[j]:+.1f}σ" for j in order)

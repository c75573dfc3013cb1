"""Per-vibe profiles: size, feature means and medians in original units, the z-score
signature (heatmap data) and the most typical tracks of each vibe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vibemap.indexer.validation.checks import as_labels, as_matrix
from vibemap.indexer.vibe_facts import nearest_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VibeProfile:
    """One vibe: how big it is, what it sounds like, and its most typical tracks."""

    vibe_id: int
    size: int
    share: float
    mean: dict[str, float]  # original units
    median: dict[str, float]  # original units
    signature: dict[str, float]  # mean z-score of each feature (the centroid in z-space)
    typical_rows: tuple[int, ...]  # nearest tracks to the centroid in z-space, nearest first
    typical_distances: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "vibe_id": self.vibe_id,
            "size": self.size,
            "share": round(self.share, 5),
            "mean": _rounded(self.mean),
            "median": _rounded(self.median),
            "signature": _rounded(self.signature),
            "typical": [
                {"row": row, "distance": round(dist, 4)}
                for row, dist in zip(self.typical_rows, self.typical_distances, strict=True)
            ],
        }


@dataclass(frozen=True)
class VibeProfiles:
    """Profiles of every vibe, by ascending vibe id."""

    feature_names: tuple[str, ...]
    profiles: tuple[VibeProfile, ...]

    @property
    def vibe_ids(self) -> tuple[int, ...]:
        return tuple(p.vibe_id for p in self.profiles)

    def signature_matrix(self) -> np.ndarray:
        """float64 array of shape (n_vibes, n_features): the z-score heatmap."""
        return np.array(
            [[p.signature[name] for name in self.feature_names] for p in self.profiles],
            dtype=np.float64,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.feature_names),
            "vibes": [p.to_dict() for p in self.profiles],
            "heatmap": {
                "vibe_ids": list(self.vibe_ids),
                "features": list(self.feature_names),
                "z": [[round(float(v), 4) for v in row] for row in self.signature_matrix()],
            },
        }


def profile_vibes(
    X: np.ndarray,
    raw: np.ndarray | pd.DataFrame,
    labels: np.ndarray,
    feature_names: Sequence[str],
    *,
    n_typical: int = 5,
) -> VibeProfiles:
    """Describe each vibe in original units and in z-scores.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features), z-scores.
    raw : float array or frame of shape (n_tracks, n_features), the same tracks in original
        units (a frame is read by ``feature_names``, so it may hold other columns too).
    labels : int array of shape (n_tracks,), the vibe of each track.
    feature_names : n_features names, in the column order of X.
    n_typical : how many most typical tracks per vibe (fewer when the vibe is smaller).

    Returns
    -------
    VibeProfiles
        One profile per distinct label, ascending. The signature is the mean of X over the
        vibe's tracks (equal to the K-Means centroid at convergence); typical tracks are the
        rows nearest to it (Euclidean, z-space), ties by row.
    """
    names = _as_names(feature_names)
    X = _with_columns(X, "X", len(names))
    n = X.shape[0]
    if isinstance(raw, pd.DataFrame):
        missing = [name for name in names if name not in raw.columns]
        if missing:
            raise ValueError(f"raw frame lacks feature columns {missing}")
        raw = raw[list(names)].to_numpy()
    R = _with_columns(raw, "raw", len(names))
    if R.shape[0] != n:
        raise ValueError(f"raw has {R.shape[0]} rows but X has {n}")
    labels = as_labels(labels, n)
    if n_typical < 0:
        raise ValueError(f"n_typical must be >= 0, got {n_typical}")

    vibe_ids, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    profiles = []
    for vibe, start, count in zip(vibe_ids, starts, counts, strict=True):
        rows = order[start : start + count]  # ascending, thanks to the stable sort
        Xv, Rv = X[rows], R[rows]
        centroid = Xv.mean(axis=0)
        nearest = nearest_rows(Xv, centroid, n_typical)  # the build's rule, around the mean
        dist = np.sqrt(((Xv[nearest] - centroid) ** 2).sum(axis=1))
        profiles.append(
            VibeProfile(
                vibe_id=int(vibe),
                size=int(count),
                share=float(count / n),
                mean=dict(zip(names, map(float, Rv.mean(axis=0)), strict=True)),
                median=dict(zip(names, map(float, np.median(Rv, axis=0)), strict=True)),
                signature=dict(zip(names, map(float, centroid), strict=True)),
                typical_rows=tuple(int(r) for r in rows[nearest]),
                typical_distances=tuple(float(v) for v in dist),
            )
        )
    logger.info("profiled %d vibes over %d tracks", len(profiles), n)
    return VibeProfiles(feature_names=names, profiles=tuple(profiles))


def _rounded(values: dict[str, float], digits: int = 4) -> dict[str, float]:
    return {key: round(float(value), digits) for key, value in values.items()}


def _as_names(feature_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(feature_names, str):
        raise ValueError("feature_names must be a sequence of names, not one string")
    names = tuple(str(name) for name in feature_names)
    if not names:
        raise ValueError("feature_names is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    return names


def _with_columns(values: Any, name: str, d: int) -> np.ndarray:
    """:func:`as_matrix` with exactly ``d`` columns (one per feature name)."""
    M = np.asarray(values)
    if M.ndim == 2 and M.shape[0] > 0 and M.shape[1] != d:
        raise ValueError(f"{name} has {M.shape[1]} columns but there are {d} feature names")
    return as_matrix(M, name=name)

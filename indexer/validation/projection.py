"""PCA of the z-scored features: variance explained, loadings, a reading of each component,
and 2-D coordinates of a stratified sample of tracks for the vibe map plot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from vibemap.indexer.validation.checks import as_labels, as_matrix

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Projection:
    """PCA summary plus the sampled tracks' coordinates on PC1 and PC2."""

    feature_names: tuple[str, ...]
    explained_variance_ratio: np.ndarray  # float64 (n_components,)
    loadings: np.ndarray  # float64 (n_features, n_components): corr(feature, PC score)
    labels: tuple[str, ...]  # short reading per component, e.g. "energy, loudness vs acousticness"
    threshold: float  # |loading| a feature needs to be named in a reading
    rows: np.ndarray  # int64 (m,): sampled track rows, ascending
    coords: np.ndarray  # float32 (m, 2): PC1, PC2 of those rows
    vibes: np.ndarray  # int64 (m,): vibe of those rows

    @property
    def readings(self) -> tuple[str, ...]:
        """One sentence per component, e.g. "PC1 (31% of variance) = energy vs acousticness"."""
        return tuple(
            f"PC{c + 1} ({ratio:.0%} of variance) = {label}"
            for c, (ratio, label) in enumerate(
                zip(self.explained_variance_ratio, self.labels, strict=True)
            )
        )

    def to_dict(self, n_loadings: int | None = None) -> dict[str, Any]:
        """Plain-JSON summary; loadings of the first ``n_loadings`` components (default all)."""
        n_components = self.loadings.shape[1] if n_loadings is None else n_loadings
        return {
            "explained_variance_ratio": [round(float(v), 5) for v in self.explained_variance_ratio],
            "cumulative_variance_ratio": [
                round(float(v), 5) for v in np.cumsum(self.explained_variance_ratio)
            ],
            "loadings": {
                f"pc{c + 1}": {
                    name: round(float(self.loadings[j, c]), 4)
                    for j, name in enumerate(self.feature_names)
                }
                for c in range(min(n_components, self.loadings.shape[1]))
            },
            "labels": list(self.labels),
            "readings": list(self.readings),
            "loading_threshold": self.threshold,
            "sample": {
                "size": int(self.rows.size),
                "rows": self.rows.tolist(),
                "pc1": [round(float(v), 3) for v in self.coords[:, 0]],
                "pc2": [round(float(v), 3) for v in self.coords[:, 1]],
                "vibe": self.vibes.tolist(),
            },
        }


def pca_projection(
    X: np.ndarray,
    labels: np.ndarray,
    feature_names: Sequence[str],
    *,
    sample_size: int = 20_000,
    min_per_vibe: int = 200,
    threshold: float = 0.4,
    seed: int = 0,
) -> Projection:
    """PCA on all tracks, read from its loadings, with a stratified 2-D sample.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features), z-scores.
    labels : int array of shape (n_tracks,), the vibe of each track.
    feature_names : n_features names, in the column order of X.
    sample_size : most tracks in the 2-D sample (see :func:`stratified_sample`).
    min_per_vibe : fewest tracks of a vibe in the sample (all of it when smaller).
    threshold : a feature is named in a component's reading when its loading (its
        correlation with the component's score) is at least this in absolute value.
    seed : seeds the sample.

    Returns
    -------
    Projection
        Component signs are fixed so the feature with the largest absolute loading loads
        positively (PCA's sign is otherwise arbitrary).
    """
    X = as_matrix(X)
    n, d = X.shape
    names = _as_names(feature_names, d)
    labels = as_labels(labels, n)
    if n < 2:
        raise ValueError(f"need at least 2 tracks for PCA, got {n}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")

    pca = PCA(svd_solver="full").fit(X)
    components = pca.components_.copy()  # (n_components, d)
    std = X.std(axis=0, ddof=1)
    scale = np.sqrt(pca.explained_variance_)[:, None] / np.where(std > 0, std, np.inf)[None, :]
    loadings = (components * scale).T  # (d, n_components)
    # Deterministic signs: the strongest loading of each component is positive.
    strongest = np.abs(loadings).argmax(axis=0)
    signs = np.sign(loadings[strongest, np.arange(loadings.shape[1])])
    signs[signs == 0] = 1.0
    loadings *= signs[None, :]
    components *= signs[:, None]

    rows = stratified_sample(labels, sample_size, min_per_group=min_per_vibe, seed=seed)
    coords = ((X[rows] - pca.mean_) @ components[:2].T).astype(np.float32)
    if coords.shape[1] < 2:  # one feature: PC2 does not exist
        coords = np.hstack([coords, np.zeros((rows.size, 2 - coords.shape[1]), np.float32)])

    component_labels = tuple(
        read_component(loadings[:, c], names, threshold=threshold) for c in range(loadings.shape[1])
    )
    result = Projection(
        feature_names=names,
        explained_variance_ratio=pca.explained_variance_ratio_.astype(np.float64),
        loadings=loadings,
        labels=component_labels,
        threshold=float(threshold),
        rows=rows,
        coords=coords,
        vibes=labels[rows],
    )
    for line in result.readings[:2]:
        logger.info("%s", line)
    return result


def read_component(
    loadings: np.ndarray,
    feature_names: Sequence[str],
    *,
    threshold: float = 0.4,
    max_terms: int = 3,
) -> str:
    """Name a component after its strongest loadings: "a, b vs c".

    Parameters
    ----------
    loadings : float array of shape (n_features,), one component's loadings.
    feature_names : n_features names.
    threshold : smallest |loading| named; when no feature reaches it the strongest one is
        named with "(weak)".
    max_terms : most features named on each side.

    Returns
    -------
    str
        Features loading positively (strongest first), then "vs" and those loading
        negatively, e.g. "energy, loudness vs acousticness".
    """
    loadings = np.asarray(loadings, dtype=np.float64)
    if loadings.ndim != 1:
        raise ValueError(f"loadings must be 1-D, got shape {loadings.shape}")
    names = _as_names(feature_names, loadings.shape[0])
    if max_terms < 1:
        raise ValueError(f"max_terms must be >= 1, got {max_terms}")
    order = np.argsort(-np.abs(loadings), kind="stable")
    positive = [names[j] for j in order if loadings[j] >= threshold][:max_terms]
    negative = [names[j] for j in order if loadings[j] <= -threshold][:max_terms]
    if not positive and not negative:
        j = int(order[0])
        sign = "high" if loadings[j] >= 0 else "low"
        return f"{sign} {names[j]} (weak)"
    if positive and negative:
        return f"{', '.join(positive)} vs {', '.join(negative)}"
    if positive:
        return ", ".join(positive)
    return "low " + ", ".join(negative)


def stratified_sample(
    labels: np.ndarray, size: int, *, min_per_group: int = 200, seed: int = 0
) -> np.ndarray:
    """Rows of a seeded sample with every group represented.

    Proportional allocation (largest remainders), raised to ``min(min_per_group, group size)``
    for small groups and paid for by the groups with the most to spare.

    Parameters
    ----------
    labels : int array of shape (n,), the group of each row.
    size : most rows returned; all rows (ascending) when n <= size.
    min_per_group : fewest rows drawn from any group (all of a smaller group).
    seed : seeds the draw.

    Returns
    -------
    int64 array of shape (min(size, n),), ascending row indices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    n = labels.shape[0]
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if min_per_group < 0:
        raise ValueError(f"min_per_group must be >= 0, got {min_per_group}")
    if n <= size:
        return np.arange(n, dtype=np.int64)
    groups, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    floor = np.minimum(min_per_group, counts)
    if floor.sum() > size:
        raise ValueError(
            f"a sample of {size} cannot hold min_per_group={min_per_group} rows of each of "
            f"{groups.size} groups (needs {int(floor.sum())})"
        )
    quota = size * counts / n
    alloc = np.floor(quota).astype(np.int64)
    short = size - int(alloc.sum())
    if short:
        alloc[np.argsort(-(quota - alloc), kind="stable")[:short]] += 1
    alloc = np.minimum(np.maximum(alloc, floor), counts)
    excess = int(alloc.sum()) - size
    for _ in range(excess):  # at most n_groups x min_per_group steps
        alloc[int(np.argmax(alloc - floor))] -= 1
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picks = [
        rng.choice(order[start : start + count], size=int(a), replace=False)
        for start, count, a in zip(starts, counts, alloc, strict=True)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def _as_names(feature_names: Sequence[str], d: int) -> tuple[str, ...]:
    if isinstance(feature_names, str):
        raise ValueError("feature_names must be a sequence of names, not one string")
    names = tuple(str(name) for name in feature_names)
    if len(names) != d:
        raise ValueError(f"expected {d} feature names, got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    return names

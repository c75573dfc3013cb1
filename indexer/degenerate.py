"""Data too degenerate to cluster, named before the maths runs (issue 15 item 3).

A feature that is constant, or constant up to float noise, carries no information:
z-scoring it would divide noise by a noise-sized scale and give it the same weight as a
real feature. Such a feature gets scale 1 (see ``fit_scaler``), so its z-score is
``x - mean`` (at most ~1e-9) and it adds nothing to distances. The vectors keep their
nine columns, so the artifact format and the service are unchanged; the cleaning report
and the manifest list the feature under ``constant_features`` with a note.

A build needs at least ``MIN_VARYING_FEATURES`` features that vary: with one, cosine
similarity on z-scores is +1 or -1 for every pair and there is nothing to cluster.
"""

from __future__ import annotations

import numpy as np

from vibemap.indexer.errors import BuildError

MIN_VARYING_FEATURES = 2
# relative scale below which a feature is constant up to float noise: a real feature
# that changes by 0.001 on one track in a million has std 1e-6, far above this
RELATIVE_NOISE = 1e-9


def near_constant(F: np.ndarray) -> np.ndarray:
    """Which columns are constant up to float noise.

    F : float array of shape (n_tracks, n_features), original units.
    Returns a bool array of shape (n_features,).
    """
    F = np.asarray(F, dtype=np.float64)
    if len(F) == 0:
        return np.zeros(F.shape[1], dtype=bool)
    return near_constant_from_moments(F.mean(axis=0), F.std(axis=0))


def near_constant_from_moments(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """:func:`near_constant` from each column's mean and population std (computed
    elsewhere, e.g. distributed by the Spark build). Returns a bool array."""
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    return std <= RELATIVE_NOISE * np.maximum(np.abs(mean), 1.0)


def min_tracks(n_clusters: int, evaluate: bool, n_features: int) -> int:
    """Fewest tracks a build can use: K for K-Means; with the analyses, also more than
    DBSCAN's min_samples (2 x dimensions, vibemap.indexer.validation.outliers' default), the
    Ward dendrogram's leaves, and K + 1 (a silhouette needs K < n)."""
    if not evaluate:
        return n_clusters
    from vibemap.indexer.validation.taxonomy import DENDROGRAM_LEAVES  # not at import: the
    # service imports this module (via the scaler), and taxonomy imports sklearn

    return max(n_clusters + 1, 2 * n_features + 1, DENDROGRAM_LEAVES)


def check_buildable(
    n_tracks: int, constant: tuple[str, ...], features: tuple[str, ...],
    n_clusters: int, evaluate: bool,
) -> None:
    """Raise BuildError (one line, with the fix) when the cleaned tracks cannot be clustered
    or analysed as asked."""
    if n_clusters > n_tracks:
        raise BuildError(f"--k {n_clusters} is larger than the {n_tracks} valid tracks")
    if evaluate and n_clusters < 2:
        raise BuildError(
            f"--k {n_clusters} cannot be validated (silhouettes compare at least 2 vibes): "
            "use --k 2 or more, or build with --no-eval"
        )
    needed = min_tracks(n_clusters, evaluate, len(features))
    if n_tracks < needed:
        from vibemap.indexer.validation.taxonomy import DENDROGRAM_LEAVES


        raise BuildError(
            f"the validation analyses need at least {needed} valid tracks (DBSCAN's "
            f"min_samples is 2 x {len(features)} features; the Ward dendrogram has "
            f"{DENDROGRAM_LEAVES} leaves; silhouettes need more tracks than K), "
            f"got {n_tracks}: add tracks or build with --no-eval"
        )
    varying = len(features) - len(constant)
    if varying == 0:
        raise BuildError(
            f"all {n_tracks} valid tracks have the same value for every feature; "
            "there is nothing to cluster"
        )
    if varying < MIN_VARYING_FEATURES:
        raise BuildError(
            f"only {varying} feature varies ({', '.join(sorted(set(features) - set(constant)))}); "
            f"constant: {', '.join(constant)}. vibemap needs at least {MIN_VARYING_FEATURES} "
            "varying features to cluster"
        )


def check_distinct(F: np.ndarray, sizes: np.ndarray, n_clusters: int) -> None:
    """After K-Means: an empty vibe means fewer distinct tracks than K (raise, naming how
    many there are, rather than write an empty named vibe)."""
    if (np.asarray(sizes) > 0).all():
        return
    distinct = len(np.unique(np.round(np.asarray(F, dtype=np.float64), 9), axis=0))
    raise BuildError(
        f"only {distinct} distinct feature vectors among {len(F)} tracks, fewer than "
        f"--k {n_clusters}: lower --k to at most {distinct}"
    )

"""Ward taxonomy of every track: does a hierarchical view agree with the K-Means vibes?

Ward linkage on all tracks with memory linear in n (``fastcluster.linkage_vector``, the
nearest-neighbour-chain algorithm: O(n d) memory, roughly O(n^2) time); the tree is cut into
K clusters and compared with the K-Means labels by the adjusted Rand index. The top of the
tree is returned as a truncated dendrogram (scipy's ``truncate_mode='lastp'``) whose leaves
carry their size and dominant vibe, and the cophenetic correlation is measured on a seeded
sample (it needs all pairwise distances).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import fastcluster
import numpy as np
from scipy.cluster.hierarchy import cophenet, dendrogram, fcluster
from scipy.spatial.distance import pdist
from sklearn.metrics import adjusted_rand_score

from vibemap.indexer.validation.basis import bootstrap_ci95
from vibemap.indexer.validation.checks import as_labels, as_matrix

logger = logging.getLogger(__name__)

# leaves of the dendrogram the build stores: the build needs at least this many tracks
DENDROGRAM_LEAVES = 30


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """Ward tree of the tracks, its cut at K and its agreement with K-Means.

    ``labels`` and ``linkage`` stay out of :meth:`to_dict`.
    """

    n_clusters: int
    labels: np.ndarray  # int64 (n,): Ward cluster at the cut, 0 = largest
    linkage: np.ndarray  # float64 (n - 1, 4): scipy linkage matrix of all tracks
    ari_vs_kmeans: float
    contingency: np.ndarray  # int64 (Ward clusters, vibes): tracks in both
    vibe_ids: tuple[int, ...]  # column order of ``contingency``
    dendrogram: dict[str, list[Any]]  # truncated: icoord, dcoord, ivl, leaves, leaf_* lists
    cophenetic_correlation: float
    cophenetic_sample_size: int

    def ari_ci95(self, kmeans_labels: np.ndarray, seed: int = 0) -> float:
        """Half-width of a 95% bootstrap interval of ``ari_vs_kmeans`` over the tracks the
        tree holds (the tree itself fixed: the spread of a sampled ARI, not of Ward)."""
        km = np.asarray(kmeans_labels)
        return bootstrap_ci95(lambda idx: adjusted_rand_score(km[idx], self.labels[idx]),
                              km.size, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON summary (no per-track arrays)."""
        return {
            "method": "ward (fastcluster.linkage_vector), cut by scipy fcluster maxclust",
            "n_tracks": int(self.labels.shape[0]),
            "n_clusters": self.n_clusters,
            "ari_vs_kmeans": round(self.ari_vs_kmeans, 4),
            "vibe_ids": list(self.vibe_ids),
            "contingency": self.contingency.tolist(),
            "cophenetic_correlation": round(self.cophenetic_correlation, 4),
            "cophenetic_sample_size": self.cophenetic_sample_size,
            "dendrogram": self.dendrogram,
        }


def ward_taxonomy(
    X: np.ndarray,
    kmeans_labels: np.ndarray,
    *,
    n_clusters: int | None = None,
    truncate: int = DENDROGRAM_LEAVES,
    cophenetic_sample_size: int = 2_000,
    seed: int = 0,
) -> Taxonomy:
    """Ward linkage on all tracks, cut at K, compared with the K-Means labels.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features), z-scores.
    kmeans_labels : int array of shape (n_tracks,), the vibe of each track.
    n_clusters : where to cut the tree; default the number of distinct vibes.
    truncate : leaves of the returned dendrogram (its last ``truncate - 1`` merges).
    cophenetic_sample_size : tracks in the seeded sample whose own Ward tree gives the
        cophenetic correlation (all tracks when there are fewer).
    seed : seeds that sample.

    Returns
    -------
    Taxonomy
    """
    X = as_matrix(X)
    n = X.shape[0]
    labels_km = as_labels(kmeans_labels, n, "kmeans_labels")
    if n < 3:
        raise ValueError(f"need at least 3 tracks for a Ward tree, got {n}")
    if n_clusters is None:
        n_clusters = int(np.unique(labels_km).size)
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be in [1, {n}], got {n_clusters}")
    if not 2 <= truncate <= n:
        raise ValueError(f"truncate must be in [2, {n}], got {truncate}")
    if cophenetic_sample_size < 3:
        raise ValueError(f"cophenetic_sample_size must be >= 3, got {cophenetic_sample_size}")

    start = time.perf_counter()
    Z = fastcluster.linkage_vector(X, method="ward")
    logger.info("Ward linkage of %d tracks in %.1f s", n, time.perf_counter() - start)

    ward = _relabel_by_size(fcluster(Z, t=n_clusters, criterion="maxclust"))
    vibe_ids, vibe_index = np.unique(labels_km, return_inverse=True)
    contingency = np.zeros((int(ward.max()) + 1, vibe_ids.size), dtype=np.int64)
    np.add.at(contingency, (ward, vibe_index), 1)
    ari = float(adjusted_rand_score(labels_km, ward))

    tree = truncated_dendrogram(Z, truncate, vibe_index, vibe_ids)

    rng = np.random.default_rng(seed)
    size = min(cophenetic_sample_size, n)
    sample = np.sort(rng.choice(n, size=size, replace=False)) if size < n else np.arange(n)
    Xs = X[sample]
    coph, _ = cophenet(fastcluster.linkage_vector(Xs, method="ward"), pdist(Xs))

    logger.info("Ward cut at %d: ARI vs K-Means %.3f, cophenetic %.3f", n_clusters, ari, coph)
    return Taxonomy(
        n_clusters=int(ward.max()) + 1,
        labels=ward,
        linkage=Z,
        ari_vs_kmeans=ari,
        contingency=contingency,
        vibe_ids=tuple(int(v) for v in vibe_ids),
        dendrogram=tree,
        cophenetic_correlation=float(coph),
        cophenetic_sample_size=int(size),
    )


def truncated_dendrogram(
    Z: np.ndarray,
    truncate: int,
    vibe_index: np.ndarray | None = None,
    vibe_ids: np.ndarray | None = None,
) -> dict[str, list[Any]]:
    """The top of a linkage tree as plain lists, ready to plot.

    Parameters
    ----------
    Z : float array of shape (n - 1, 4), a scipy linkage matrix.
    truncate : number of leaves kept (scipy ``truncate_mode='lastp'``, ``p=truncate``).
    vibe_index : int array of shape (n,), optional: 0-based vibe position of each track.
    vibe_ids : int array of shape (n_vibes,), optional: the vibe id at each position.

    Returns
    -------
    dict
        ``icoord``, ``dcoord`` (one 4-point link per merge), ``ivl`` (leaf labels, "(size)"
        for merged leaves), ``leaves`` (node ids: < n a track row, else n + merge row),
        ``leaf_sizes``; with vibes also ``leaf_vibe`` and ``leaf_vibe_share`` (the dominant
        vibe of each leaf and its share of the leaf's tracks), in left-to-right leaf order.
    """
    raw = dendrogram(Z, p=truncate, truncate_mode="lastp", no_plot=True)
    leaves = [int(node) for node in raw["leaves"]]
    tree: dict[str, list[Any]] = {
        "icoord": [[round(float(v), 3) for v in link] for link in raw["icoord"]],
        "dcoord": [[round(float(v), 4) for v in link] for link in raw["dcoord"]],
        "ivl": [str(label) for label in raw["ivl"]],
        "leaves": leaves,
    }
    row_leaf = _leaf_of_rows(Z, leaves)
    tree["leaf_sizes"] = np.bincount(row_leaf, minlength=len(leaves)).tolist()
    if vibe_index is not None and vibe_ids is not None:
        counts = np.zeros((len(leaves), len(vibe_ids)), dtype=np.int64)
        np.add.at(counts, (row_leaf, np.asarray(vibe_index)), 1)
        top = counts.argmax(axis=1)
        tree["leaf_vibe"] = [int(vibe_ids[t]) for t in top]
        tree["leaf_vibe_share"] = [
            round(float(counts[i, t] / counts[i].sum()), 4) for i, t in enumerate(top)
        ]
    return tree


def _leaf_of_rows(Z: np.ndarray, leaves: list[int]) -> np.ndarray:
    """Position in ``leaves`` of the truncated leaf holding each track (top-down pass)."""
    n = Z.shape[0] + 1
    owner = np.full(2 * n - 1, -1, dtype=np.int64)
    owner[leaves] = np.arange(len(leaves))
    children = Z[:, :2].astype(np.int64)
    for merge in range(n - 2, -1, -1):
        position = owner[n + merge]
        if position >= 0:
            owner[children[merge]] = position
    return owner[:n]


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster ids 0..C-1 by decreasing size, ties by first row."""
    _, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse].astype(np.int64)

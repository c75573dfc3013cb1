"""DBSCAN outliers over every track, with neighbours from FAISS.

The result is exact DBSCAN (Ester et al. 1996) for the chosen ``eps`` and ``min_samples``:
the same core points and the same noise points as ``sklearn.cluster.DBSCAN`` (border points
that two clusters can reach go to the cluster of their nearest core point). It avoids the
all-pairs radius graph, which has ~2,000 neighbours per track on the real catalogue:

1. ``min_samples`` = 2 x dimensions (Sander et al. 1998; Schubert et al. 2017, "DBSCAN
   revisited"), 18 for the nine features. As in sklearn, a track counts itself.
2. k-distance = distance to the ``min_samples``-th nearest track, the track itself counted
   (so a track is core exactly when its k-distance <= eps). Below ``ivf_min_rows`` tracks the
   k-NN of every track is exact brute force (IndexFlatL2). Above, where brute force with
   k = 18 grows quadratically (bench/RESULTS.md), it comes from an IVF index (IndexIVFFlat,
   ~sqrt(n) lists, 16 probed): an approximate k-distance is never below the exact one, and on
   the real catalogue ~98% of them are exact.
3. ``eps`` is the knee of the sorted k-distance curve of all tracks: the point farthest below
   the chord joining the curve's ends, both axes scaled to [0, 1] (the "Kneedle" criterion).
   With IVF the curve is the approximate one; on the real catalogue (94k tracks) its knee is
   the exact curve's (eps 1.431 at the 0.944 quantile; with 8 probes it would be 1.454).
   A quantile of the curve or a fixed value can be asked for instead. Every track whose
   approximate k-distance is above eps is then searched again exactly, so core status is
   exact (an upper bound at or below eps proves a track core).
4. Clusters = connected components of core tracks linked when within eps. The k-NN edges
   between core tracks are true edges; an edge they miss joins two components, one of which
   is not the largest, so an exact radius search of the core tracks outside the largest
   component completes the graph.
5. A non-core track is a border track when a core track is within eps (its exact k-NN list
   holds every track within eps), else noise. Noise tracks are the outliers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vibemap.indexer.validation.checks import as_matrix

logger = logging.getLogger(__name__)

_KNN_BATCH = 65_536  # queries per IVF k-NN search: the unit of progress
_RANGE_BATCH = 1024  # queries per radius search: bounds memory at ~batch x neighbours


@dataclass(frozen=True, eq=False)
class OutlierReport:
    """DBSCAN outliers of a feature matrix.

    Arrays are per track (row order of X) and stay out of :meth:`to_dict`, which holds the
    summary written to metrics.json.
    """

    eps: float
    min_samples: int
    rule: str
    labels: np.ndarray  # int64 (n,): DBSCAN cluster id by decreasing size, -1 = noise
    is_outlier: np.ndarray  # bool (n,): noise points
    is_core: np.ndarray  # bool (n,)
    k_distance: np.ndarray  # float32 (n,): exact above eps; for core tracks maybe an upper bound
    n_clusters: int
    cluster_sizes: tuple[int, ...]
    atypical_rows: tuple[int, ...]  # rows by decreasing k-distance
    atypical_k_distance: tuple[float, ...]  # exact
    k_distance_quantiles: dict[str, float]  # of the curve that set eps
    exact_search_share: float  # share of tracks whose k-NN came from the exact search

    @property
    def n_tracks(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_outliers(self) -> int:
        return int(self.is_outlier.sum())

    @property
    def n_core(self) -> int:
        return int(self.is_core.sum())

    @property
    def n_border(self) -> int:
        return self.n_tracks - self.n_core - self.n_outliers

    @property
    def outlier_share(self) -> float:
        return self.n_outliers / self.n_tracks if self.n_tracks else 0.0

    def to_dict(self, max_cluster_sizes: int = 50) -> dict[str, Any]:
        """Plain-JSON summary; per-track arrays are left out."""
        return {
            "eps": round(self.eps, 4),
            "min_samples": self.min_samples,
            "rule": self.rule,
            "n_tracks": self.n_tracks,
            "n_outliers": self.n_outliers,
            "outlier_share": round(self.outlier_share, 5),
            "n_core": self.n_core,
            "n_border": self.n_border,
            "n_clusters": self.n_clusters,
            "cluster_sizes": list(self.cluster_sizes[:max_cluster_sizes]),
            "exact_search_share": round(self.exact_search_share, 4),
            "k_distance_quantiles": {
                key: round(value, 4) for key, value in self.k_distance_quantiles.items()
            },
            "most_atypical": [
                {"row": row, "k_distance": round(dist, 4)}
                for row, dist in zip(self.atypical_rows, self.atypical_k_distance, strict=True)
            ],
        }


def knee_of_curve(values: np.ndarray) -> int:
    """Index of the knee of an increasing curve: the point farthest below its chord.

    Parameters
    ----------
    values : float array of shape (m,), sorted ascending.

    Returns
    -------
    int
        Position in ``values``. Both axes are scaled to [0, 1] before measuring, so the
        answer does not depend on units; a flat curve returns its last index.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {y.shape}")
    if np.any(np.diff(y) < 0):
        raise ValueError("values must be sorted ascending")
    span = y[-1] - y[0]
    if y.size < 3 or span <= 0:
        return int(y.size - 1)
    x = np.linspace(0.0, 1.0, y.size)
    return int(np.argmax(x - (y - y[0]) / span))


def find_outliers(
    X: np.ndarray,
    *,
    min_samples: int | None = None,
    eps: float | None = None,
    eps_quantile: float | None = None,
    limit: int = 20,
    seed: int = 0,
    ivf_min_rows: int = 20_000,
    nprobe: int = 16,
    tick: Callable[[str, int, int | None], None] | None = None,
) -> OutlierReport:
    """Exact DBSCAN over all tracks; noise points are the outliers.

    Parameters
    ----------
    X : float array of shape (n_tracks, n_features), z-scores (cast to float32).
    min_samples : neighbourhood size for a core track, the track itself counted.
        Default 2 x n_features.
    eps : radius; default: the knee rule (see the module docstring).
    eps_quantile : if given (and ``eps`` is not), eps is this quantile of the k-distances
        instead of the knee.
    limit : how many most atypical tracks (largest k-distance) to return.
    seed : seeds the IVF training (only used from ``ivf_min_rows`` tracks on).
    ivf_min_rows : below this many tracks every k-NN search is exact brute force.
    nprobe : IVF lists visited per query (of about sqrt(n_tracks)); more makes the curve
        that sets eps closer to exact, and the search slower.
    tick : progress of the IVF k-NN search, (task, tracks searched, all tracks).

    Returns
    -------
    OutlierReport
    """
    X = as_matrix(X, np.float32)
    n, d = X.shape
    if min_samples is None:
        min_samples = 2 * d
    if not isinstance(min_samples, int | np.integer) or min_samples < 2:
        raise ValueError(f"min_samples must be an integer >= 2, got {min_samples!r}")
    min_samples = int(min_samples)
    if n <= min_samples:
        raise ValueError(f"need more than min_samples={min_samples} tracks, got {n}")
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    if eps_quantile is not None and not 0.0 < eps_quantile < 1.0:
        raise ValueError(f"eps_quantile must be in (0, 1), got {eps_quantile!r}")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if ivf_min_rows < 1:
        raise ValueError(f"ivf_min_rows must be >= 1, got {ivf_min_rows}")
    if nprobe < 1:
        raise ValueError(f"nprobe must be >= 1, got {nprobe}")

    k = min_samples
    flat = faiss.IndexFlatL2(d)
    flat.add(X)

    # 1. k-NN of every track (squared distances, ascending), and eps from its k-distances.
    use_ivf = n >= ivf_min_rows
    if use_ivf:
        D, ids = _ivf_search(X, k, seed, nprobe, tick)
        exact = np.zeros(n, dtype=bool)
        # Lists too small to fill k neighbours (degenerate data): search those exactly.
        _refine(flat, X, D, ids, exact, np.flatnonzero(~np.isfinite(D[:, -1])), k)
    else:
        D, ids = flat.search(X, k)
        exact = np.ones(n, dtype=bool)
    curve = np.sort(np.sqrt(np.maximum(D[:, -1], 0.0)))
    eps_value, rule = _choose_eps(curve, eps, eps_quantile, k, d, use_ivf)
    eps2 = np.float32(eps_value) ** 2
    logger.info("DBSCAN eps=%.4f min_samples=%d (%s)", eps_value, k, rule)

    # 2. An approximate k-distance is an upper bound: at or below eps the track is surely
    #    core; every other track is searched again exactly.
    if use_ivf:
        _refine(flat, X, D, ids, exact, np.flatnonzero(~(D[:, -1] <= eps2)), k)
        logger.info("IVF k-NN: %d of %d tracks searched again exactly", exact.sum(), n)
    is_core = D[:, -1] <= eps2

    # 3. clusters of core tracks.
    labels = _core_components(X, D, ids, is_core, eps2)

    # 4. A non-core track's exact k-NN list holds every track within eps of it (its
    #    k-distance is larger): it is a border track when one of those is core, and joins
    #    the cluster of the nearest such.
    other = np.flatnonzero(~is_core)
    if other.size and is_core.any():
        ids_other = ids[other]
        reach = (D[other] <= eps2) & (ids_other >= 0) & is_core[np.maximum(ids_other, 0)]
        border = reach.any(axis=1)
        nearest = ids_other[border, reach[border].argmax(axis=1)]
        labels[other[border]] = labels[nearest]
    is_outlier = labels < 0

    # 5. most atypical tracks, with exact k-distances.
    kth = D[:, -1]
    while True:
        order = np.lexsort((np.arange(n), -kth))[:limit]
        missing = order[~exact[order]]
        if missing.size == 0:
            break
        _refine(flat, X, D, ids, exact, missing, k)
    k_distance = np.sqrt(np.maximum(D[:, -1], 0.0)).astype(np.float32)

    sizes = np.bincount(labels[labels >= 0]) if is_core.any() else np.zeros(0, dtype=np.int64)
    quantiles = {
        f"q{int(round(q * 1000)):03d}": float(np.quantile(curve, q))
        for q in (0.5, 0.9, 0.95, 0.99, 0.999)
    }
    quantiles["max"] = float(k_distance.max())
    report = OutlierReport(
        eps=float(eps_value),
        min_samples=k,
        rule=rule,
        labels=labels,
        is_outlier=is_outlier,
        is_core=is_core,
        k_distance=k_distance,
        n_clusters=int(sizes.size),
        cluster_sizes=tuple(int(s) for s in sizes),
        atypical_rows=tuple(int(r) for r in order),
        atypical_k_distance=tuple(float(k_distance[r]) for r in order),
        k_distance_quantiles=quantiles,
        exact_search_share=float(exact.mean()),
    )
    logger.info(
        "DBSCAN: %d clusters, %d core, %d border, %d noise (%.2f%%)",
        report.n_clusters,
        report.n_core,
        report.n_border,
        report.n_outliers,
        100 * report.outlier_share,
    )
    return report


def _choose_eps(
    curve: np.ndarray,
    eps: float | None,
    eps_quantile: float | None,
    k: int,
    d: int,
    approximate: bool,
) -> tuple[float, str]:
    source = (
        "IVF k-NN of all tracks (upper bounds of the exact k-distances, exact above eps)"
        if approximate
        else "exact k-NN of all tracks"
    )
    base = (
        f"min_samples = {k} (2 x {d} dimensions, the track itself counted); "
        f"k-distance = distance to the {k}-th nearest track, from the {source}"
    )
    if eps is not None:
        return float(eps), f"{base}; eps = {eps:g} given"
    if eps_quantile is not None:
        value = float(np.quantile(curve, eps_quantile))
        return value, f"{base}; eps = {eps_quantile:g} quantile of the k-distances"
    knee = knee_of_curve(curve)
    position = knee / max(len(curve) - 1, 1)
    return float(curve[knee]), (
        f"{base}; eps = knee of the sorted k-distances (point farthest below the chord "
        f"joining its ends, axes scaled to [0, 1]), at the {position:.3f} quantile"
    )


def _ivf_search(X: np.ndarray, k: int, seed: int, nprobe: int, tick=None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k-NN (squared distances, sorted); rows it could not fill get +inf.
    Queries go in batches of ``_KNN_BATCH`` so that ``tick`` can report them."""
    n, d = X.shape
    nlist = int(np.clip(round(math.sqrt(n)), 16, 4096))
    quantizer = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist)
    ivf.cp.seed = seed
    ivf.train(X)
    ivf.add(X)
    ivf.nprobe = min(nprobe, nlist)
    D = np.empty((n, k), dtype=np.float32)
    ids = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _KNN_BATCH):
        stop = min(start + _KNN_BATCH, n)
        D[start:stop], ids[start:stop] = ivf.search(X[start:stop], k)
        if tick:
            tick("DBSCAN k-NN (IVF)", stop, n)
    D[ids < 0] = np.inf
    return D, ids


def _refine(
    flat: faiss.IndexFlatL2,
    X: np.ndarray,
    D: np.ndarray,
    ids: np.ndarray,
    exact: np.ndarray,
    rows: np.ndarray,
    k: int,
) -> None:
    """Replace the k-NN of ``rows`` by an exact search (in place)."""
    rows = rows[~exact[rows]]
    if rows.size == 0:
        return
    D[rows], ids[rows] = flat.search(X[rows], k)
    exact[rows] = True


def _core_components(
    X: np.ndarray, D: np.ndarray, ids: np.ndarray, is_core: np.ndarray, eps2: np.float32
) -> np.ndarray:
    """Cluster id per track for core tracks (by decreasing size), -1 elsewhere."""
    n = X.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    core_rows = np.flatnonzero(is_core)
    if core_rows.size == 0:
        return labels
    # k-NN edges: a core track's whole neighbour list lies within eps.
    src = np.repeat(core_rows, ids.shape[1])
    dst = ids[core_rows].ravel()
    keep = (dst >= 0) & (dst != src)
    keep[keep] &= is_core[dst[keep]]
    src, dst = src[keep], dst[keep]
    comp = _components(n, src, dst)[core_rows]
    largest = np.bincount(comp).argmax()
    outside = core_rows[comp != largest]
    if outside.size:
        # Exact radius search of core tracks outside the largest component, against core tracks.
        core_index = faiss.IndexFlatL2(X.shape[1])
        core_index.add(X[core_rows])
        radius = float(np.nextafter(eps2, np.float32(np.inf)))
        extra_src, extra_dst = [src], [dst]
        for start in range(0, outside.size, _RANGE_BATCH):
            batch = outside[start : start + _RANGE_BATCH]
            lims, _, found = core_index.range_search(X[batch], radius)
            extra_src.append(np.repeat(batch, np.diff(lims).astype(np.int64)))
            extra_dst.append(core_rows[found])
        src, dst = np.concatenate(extra_src), np.concatenate(extra_dst)
        comp = _components(n, src, dst)[core_rows]
        logger.debug(
            "radius search for %d core tracks outside the largest k-NN component", outside.size
        )
    # Renumber by decreasing size, ties by first row, so ids are stable.
    _, first, inverse, counts = np.unique(
        comp, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    labels[core_rows] = rank[inverse]
    return labels


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=True, connection="weak")[1]

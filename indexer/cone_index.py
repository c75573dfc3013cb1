"""The rows of each inverted list sorted by their angle to the list's centroid: what an
exact filtered recommendation walks instead of scoring every row (derived at build time
from a cosine IVF index, memory-mapped by the service).

For unit vectors ``x``, ``q`` and a unit axis ``a``, the triangle inequality on the sphere
gives ``angle(q, x) >= |angle(x, a) - angle(q, a)|``, so ``q . x <= cos(|theta_x - phi|)``
with ``theta_x`` the row's angle to its list's axis and ``phi`` the query's. Rows sorted
by ``theta`` within each list let a query take, with one binary search per list, exactly
the rows that can still beat a score (:mod:`vibemap.recommender.cone_scan`)::

    cones/rows.npy     int64 (n,): rows grouped by list, by angle to the list's axis within
                       a list (then by the list's own order)
    cones/keys.npy     float64 (n,): ``list * KEY_STRIDE + angle`` (radians in [0, pi]),
                       ascending: one sorted array for every list's binary search
    cones/offsets.npy  int64 (n_lists + 1,): list l holds rows[offsets[l]:offsets[l + 1]]
    cones/axes.npy     float64 (n_lists, D): the lists' unit centroid directions
    cones/vectors.npy  float32 (n, D): the index vectors in that order (vectors[i] is row
                       rows[i]'s), so the rows a query takes are read in runs, not one
                       random page each

Only a cosine IVF artifact has them (a flat index's catalogue is small enough to score
whole; euclidean scores are not angles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.ivf_tools import IVF_FLAT
from vibemap.indexer.vector_index import PartitionedIndex

KEY_STRIDE = 8.0  # > pi: the angles of list l lie in [8 l, 8 l + pi]
FILES = {"rows": "cones/rows.npy", "keys": "cones/keys.npy",
         "offsets": "cones/offsets.npy", "axes": "cones/axes.npy",
         "vectors": "cones/vectors.npy"}
CHUNK = 1 << 16  # rows per step of the angle computation (bounds the build's temporaries:
#                 ~20 bytes a row and dimension, ~14 MB a step at D = 11)


@dataclass(frozen=True)
class Cones:
    """The arrays of the module docstring."""

    rows: np.ndarray
    keys: np.ndarray
    offsets: np.ndarray
    axes: np.ndarray
    vectors: np.ndarray

    @property
    def n_lists(self) -> int:
        return len(self.offsets) - 1


def cone_files() -> tuple[str, ...]:
    return tuple(FILES.values())


def has_cones(build: Mapping) -> bool:
    """Whether an artifact of these build facts (the manifest's ``build``) has cones."""
    return build.get("index") == IVF_FLAT and build.get("metric") == "cosine"


def unit_rows(A: np.ndarray) -> np.ndarray:
    """float64 copy of ``A`` with every non-zero row scaled to unit length."""
    A = np.array(A, dtype=np.float64)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    np.divide(A, norms, out=A, where=norms > 0)
    return A


def derive_cones(X: np.ndarray, list_rows: np.ndarray, offsets: np.ndarray,
                 centroids: np.ndarray) -> Cones:
    """The structure from index vectors and their lists.

    X : float32 (n, D) unit vectors; list_rows : int64 (n,) rows grouped by list;
    offsets : int64 (n_lists + 1,) list l holds list_rows[offsets[l]:offsets[l + 1]];
    centroids : (n_lists, D) the lists' centroids (normalised here).
    """
    axes = unit_rows(centroids)
    n = len(list_rows)
    sizes = np.diff(offsets)
    list_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    keys = np.empty(n, dtype=np.float64)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        cos = np.einsum("ij,ij->i", unit_rows(X[list_rows[lo:hi]]), axes[list_of[lo:hi]])
        keys[lo:hi] = np.arccos(np.clip(cos, -1.0, 1.0))
    keys += list_of * KEY_STRIDE
    del list_of
    order = np.argsort(keys, kind="stable")
    rows = np.asarray(list_rows, dtype=np.int64)[order]
    return Cones(rows, keys[order], np.asarray(offsets, dtype=np.int64), axes,
                 np.ascontiguousarray(X[rows], dtype=np.float32))


def ivf_lists(index: faiss.IndexIVF) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows grouped by list, offsets, centroids) of an IVF index whose ids are rows."""
    invlists = index.invlists
    sizes = np.array([invlists.list_size(lst) for lst in range(index.nlist)], dtype=np.int64)
    offsets = np.zeros(index.nlist + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    rows = np.empty(int(offsets[-1]), dtype=np.int64)
    for lst in np.flatnonzero(sizes):
        rows[offsets[lst]:offsets[lst + 1]] = faiss.rev_swig_ptr(
            invlists.get_ids(int(lst)), int(sizes[lst]))
    return rows, offsets, index.quantizer.reconstruct_n(0, index.nlist)


def cones_of_index(index: faiss.IndexIVF, X: np.ndarray) -> Cones:
    """The cones of an IVF index over the unit vectors ``X`` (float32 (n, D))."""
    return derive_cones(X, *ivf_lists(index))


def index_lists(index: PartitionedIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The build's hook, first half: a cosine IVF index's lists (None for other indexes),
    taken before the build releases the index."""
    if not has_cones({"index": index.kind, "metric": index.metric}):
        return None
    return ivf_lists(faiss.extract_index_ivf(index.full))


def write_index_cones(directory: Path, lists: tuple | None, X: np.ndarray) -> None:
    """The build's hook, second half: write the cones of the lists (nothing for None)."""
    if lists is not None:
        write_cones(directory, derive_cones(X, *lists))


def write_cones(directory: Path, cones: Cones) -> None:
    (directory / "cones").mkdir(parents=True, exist_ok=True)
    for part, rel in FILES.items():
        np.save(directory / rel, getattr(cones, part), allow_pickle=False)


def read_cones(directory: Path, n_rows: int, d: int) -> Cones:
    """The mapped structure, checked: shapes, dtypes, a permutation's range, offsets in
    order and keys ascending within [list * KEY_STRIDE, list * KEY_STRIDE + pi]."""
    directory = Path(directory)
    rows = checks.read_npy(directory / FILES["rows"], np.int64, (n_rows,), FILES["rows"],
                           mmap=True)
    keys = checks.read_npy(directory / FILES["keys"], np.float64, (n_rows,), FILES["keys"],
                           mmap=True)
    axes = checks.read_npy(directory / FILES["axes"], np.float64, (None, d), FILES["axes"])
    vectors = checks.read_npy(directory / FILES["vectors"], np.float32, (n_rows, d),
                              FILES["vectors"], mmap=True)
    offsets = checks.read_npy(directory / FILES["offsets"], np.int64, (len(axes) + 1,),
                              FILES["offsets"])
    if offsets[0] != 0 or offsets[-1] != n_rows or (np.diff(offsets) < 0).any():
        raise ValueError(f"{FILES['offsets']}: offsets do not index the {n_rows} rows in order")
    if n_rows and (int(rows.min()) < 0 or int(rows.max()) >= n_rows):
        raise ValueError(f"{FILES['rows']}: rows fall outside [0, {n_rows})")
    first, last = list_bounds(keys, offsets)
    sizes = np.diff(offsets) > 0
    if (n_rows and (np.diff(keys) < 0).any()) or (first[sizes] < 0).any() or (
            last[sizes] > np.pi + 1e-9).any():
        raise ValueError(f"{FILES['keys']}: keys are not the lists' angles in order")
    return Cones(rows, keys, offsets, axes, vectors)


def list_bounds(keys: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(smallest, largest angle) per list: +inf / -inf for an empty list."""
    n_lists = len(offsets) - 1
    base = np.arange(n_lists) * KEY_STRIDE
    nonempty = np.diff(offsets) > 0
    first = np.full(n_lists, np.inf)
    last = np.full(n_lists, -np.inf)
    first[nonempty] = keys[offsets[:-1][nonempty]] - base[nonempty]
    last[nonempty] = keys[offsets[1:][nonempty] - 1] - base[nonempty]
    return first, last

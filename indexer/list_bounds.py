"""Exact filtered search over an IVF-Flat index by bounds on its inverted lists.

Every list ``l`` has a centroid ``c_l`` and a radius ``r_l = max |x - c_l|`` over its
rows (computed at build time, ``faiss/list_radius.npy``). No row of ``l`` scores above
``q.c_l + |q| r_l`` (inner product) or ``-(max(0, |q - c_l| - r_l))^2`` (negative squared
L2). Visiting the lists by that bound, best first, and stopping once ``need`` passing rows
score strictly above the next list's bound gives exactly the rows a scan of every row
would (ties go to the lower row), while scoring only the lists near the query. The rows
and vectors of a list are views of the memory-mapped FAISS file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.metric import similarities

RADIUS_FILE = "faiss/list_radius.npy"
# float32 scores carry rounding the float64 bounds do not; keep a margin well above it
_MARGIN = 1e-4


def row_scores(V: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """The scores :func:`similarities` gives the rows of ``V`` (float32 (m, d)) to ``q``,
    bit for bit as it gives them in a scan of every row: BLAS scores each row of a
    matrix-vector product on its own, but numpy sends a single row to a dot product,
    which sums in another order, so one row is scored as a matrix of two."""
    if len(V) == 1:
        return similarities(np.vstack([V, V]), q, metric)[:1]
    return similarities(V, q, metric)


def _list_view(index: faiss.IndexIVF, list_no: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows int64 (m,), vectors float32 (m, d)) of one inverted list, without a copy."""
    lists = index.invlists
    m = lists.list_size(list_no)
    if m == 0:
        return np.empty(0, dtype=np.int64), np.empty((0, index.d), dtype=np.float32)
    ids = faiss.rev_swig_ptr(lists.get_ids(list_no), m)
    codes = faiss.rev_swig_ptr(lists.get_codes(list_no), m * index.code_size)
    return (np.asarray(ids).view(np.int64),
            np.asarray(codes).view(np.float32).reshape(m, index.d))


def list_radius(index: faiss.IndexIVF) -> np.ndarray:
    """float64 (nlist,): the largest distance of a list's rows to its centroid."""
    centroids = index.quantizer.reconstruct_n(0, index.nlist).astype(np.float64)
    radius = np.zeros(index.nlist, dtype=np.float64)
    for lst in range(index.nlist):
        _, vectors = _list_view(index, lst)
        if len(vectors):
            radius[lst] = float(np.sqrt(((vectors - centroids[lst]) ** 2).sum(axis=1).max()))
    return radius


def write_radius(index: faiss.IndexIVF, directory: Path) -> str:
    np.save(Path(directory) / RADIUS_FILE, list_radius(index), allow_pickle=False)
    return RADIUS_FILE


@dataclass(frozen=True)
class ListBounds:
    """An IVF-Flat index with its lists' centroids and radii (see the module docstring)."""

    index: faiss.IndexIVF
    centroids: np.ndarray
    radius: np.ndarray
    vibe_lists: dict[int, slice]

    def scope_lists(self, vibe_id: int | None) -> slice:
        """The lists of one vibe (the index groups them by vibe), or all of them."""
        return slice(0, self.index.nlist) if vibe_id is None else self.vibe_lists[vibe_id]

    @classmethod
    def derive(cls, index: faiss.IndexIVF, spec: dict) -> ListBounds:
        """The bounds of an index made in memory (as the build computes them)."""
        return cls._make(index, list_radius(index), spec)

    @classmethod
    def _make(cls, index: faiss.IndexIVF, radius: np.ndarray, spec: dict) -> ListBounds:
        centroids = index.quantizer.reconstruct_n(0, index.nlist).astype(np.float64)
        vibe_lists = {int(lay["vibe_id"]): slice(int(lay["list_start"]), int(lay["list_stop"]))
                      for lay in spec["lists"]}
        return cls(index, centroids, radius, vibe_lists)

    @classmethod
    def read(cls, directory: Path, index: faiss.IndexIVF, spec: dict) -> ListBounds:
        """The bounds of an artifact's IVF index; ``spec`` is its manifest index spec
        (``lists``: each vibe's [list_start, list_stop))."""
        radius = checks.read_npy(Path(directory) / RADIUS_FILE, np.float64, (index.nlist,),
                                 RADIUS_FILE)
        if not (np.isfinite(radius).all() and (radius >= 0).all()):
            raise ValueError(f"{RADIUS_FILE}: radii must be finite and >= 0")
        return cls._make(index, radius, spec)

    def bounds(self, q: np.ndarray, metric: str, lists: slice) -> np.ndarray:
        """float64: the best score any row of each list in ``lists`` can reach."""
        c, r = self.centroids[lists], self.radius[lists]
        q64 = np.asarray(q, dtype=np.float64)
        if metric == "cosine":
            return c @ q64 + np.linalg.norm(q64) * r + _MARGIN
        gap = np.maximum(np.linalg.norm(c - q64, axis=1) - r, 0.0)
        return -(gap**2) + _MARGIN

    def top(self, q: np.ndarray, metric: str, lists: slice, passes: np.ndarray,
            offset: int, need: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``need`` rows (score desc, then row) among those with
        ``passes[row - offset]`` in the lists ``lists``, and their scores; fewer when
        fewer pass. passes : bool over the rows [offset, offset + len(passes))."""
        ub = self.bounds(q, metric, lists)
        order = np.argsort(-ub, kind="stable")
        rows_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        kth = -np.inf
        found = 0
        for i in order.tolist():
            if found >= need and kth > ub[i]:
                break
            rows, vectors = _list_view(self.index, lists.start + i)
            keep = passes[rows - offset]
            if not keep.any():
                continue
            rows_parts.append(rows[keep])
            score_parts.append(row_scores(vectors[keep], q, metric))
            found += int(keep.sum())
            if found >= need:  # keep the best need (and every tie with the last of them)
                rows, scores = np.concatenate(rows_parts), np.concatenate(score_parts)
                kth = float(np.partition(scores, len(scores) - need)[-need])
                best = scores >= kth
                rows_parts, score_parts, found = [rows[best]], [scores[best]], int(best.sum())
        if not rows_parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows, scores = np.concatenate(rows_parts), np.concatenate(score_parts)
        best = np.lexsort((rows, -scores))[:need]
        return rows[best], scores[best]

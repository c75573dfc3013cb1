"""FAISS index partitioned by vibe.

Tracks are stored sorted by vibe, so vibe ``v`` owns the contiguous rows
``[start_v, stop_v)`` and its sub-index's local id ``i`` is global row
``start_v + i``. A within-vibe query touches only that vibe's vectors; an
across-vibe query runs on the index over all rows. Global row ``i`` is row ``i``
of the tracks table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

logger = logging.getLogger(__name__)

METRICS = ("cosine", "euclidean")


def to_index_space(Z: np.ndarray, metric: str) -> np.ndarray:
    """Z-scores -> the vectors the index stores: unit rows for cosine, as-is for euclidean.

    Z : float array of shape (n, d). Returns a C-contiguous float32 copy.
    A zero row stays zero under cosine (it matches nothing better than anything else).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    X = np.array(Z, dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        np.divide(X, norms, out=X, where=norms > 0)
    return X


@dataclass(frozen=True)
class Partition:
    vibe_id: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def partitions_from_sorted_labels(labels: np.ndarray, n_clusters: int) -> list[Partition]:
    """Contiguous row ranges per vibe; ``labels`` must be sorted ascending."""
    labels = np.asarray(labels)
    if labels.size and np.any(np.diff(labels) < 0):
        raise ValueError("labels must be sorted by vibe before partitioning")
    bounds = np.searchsorted(labels, np.arange(n_clusters + 1), side="left")
    return [Partition(v, int(bounds[v]), int(bounds[v + 1])) for v in range(n_clusters)]


def _flat(d: int, metric: str) -> faiss.Index:
    return faiss.IndexFlatIP(d) if metric == "cosine" else faiss.IndexFlatL2(d)


class PartitionedIndex:
    """One FAISS index over all rows plus one per vibe, all exact (flat) for now."""

    def __init__(
        self,
        metric: str,
        partitions: list[Partition],
        full: faiss.Index,
        parts: dict[int, faiss.Index],
    ) -> None:
        self.metric = metric
        self.partitions = {p.vibe_id: p for p in partitions}
        self.full = full
        self.parts = parts

    @classmethod
    def build(cls, X: np.ndarray, partitions: list[Partition], metric: str) -> PartitionedIndex:
        """X : float32 (n, d) index-space vectors, rows sorted by vibe."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        full = _flat(X.shape[1], metric)
        full.add(X)
        parts = {}
        for p in partitions:
            idx = _flat(X.shape[1], metric)
            idx.add(X[p.start : p.stop])
            parts[p.vibe_id] = idx
        return cls(metric, partitions, full, parts)

    @property
    def ntotal(self) -> int:
        return int(self.full.ntotal)

    def search(
        self, queries: np.ndarray, limit: int, vibe_id: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest rows for each query.

        queries : float32 (q, d) in index space. Returns (scores, rows), each (q, limit);
        scores are similarities (inner product for cosine, negative squared L2 for
        euclidean) so that larger is always better; missing results have row -1.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if vibe_id is None:
            index, offset = self.full, 0
        else:
            p = self.partitions[vibe_id]
            index, offset = self.parts[vibe_id], p.start
        k = min(limit, index.ntotal)
        if k <= 0:
            empty = np.empty((len(q), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        D, I = index.search(q, k)
        if self.metric == "euclidean":
            D = -D
        rows = np.where(I >= 0, I + offset, -1)
        return D, rows

    def file_names(self) -> dict[str, faiss.Index]:
        files = {"faiss/all.faiss": self.full}
        files.update({f"faiss/vibe_{v}.faiss": idx for v, idx in self.parts.items()})
        return files

    def save(self, directory: Path) -> list[str]:
        """Write every index file under ``directory``; returns their relative paths."""
        written = []
        for rel, index in self.file_names().items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            faiss.write_index(index, str(path))
            written.append(rel)
        return written

    @classmethod
    def load(cls, directory: Path, metric: str, partitions: list[Partition]) -> PartitionedIndex:
        full = faiss.read_index(str(directory / "faiss/all.faiss"))
        parts = {
            p.vibe_id: faiss.read_index(str(directory / f"faiss/vibe_{p.vibe_id}.faiss"))
            for p in partitions
        }
        return cls(metric, partitions, full, parts)

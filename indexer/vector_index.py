"""FAISS index partitioned by vibe: exact (flat) up to a size threshold, IVF-Flat above it.

Tracks are stored sorted by vibe, so vibe ``v`` owns the contiguous rows
``[start_v, stop_v)``. Global row ``i`` is row ``i`` of the tracks table, and every
search returns global rows and larger-is-better scores, whatever the index type.

Two layouts:

``flat`` (the default, exact)
    One ``IndexFlat`` over all rows (``faiss/all.faiss``) plus one per vibe
    (``faiss/vibe_<v>.faiss``, local id ``i`` = global row ``start_v + i``).

``ivf_flat`` (approximate, for catalogues above ``ann_threshold`` rows)
    ONE ``IndexIVFFlat`` over all rows (``faiss/all.faiss``) whose inverted lists are
    grouped by vibe (:mod:`vibemap.indexer.ivf_tools`). An across-vibe query probes the
    nearest lists of all vibes; a within-vibe query restricts the coarse search to the
    vibe's lists, which is an IVF search over that vibe's rows alone. The list layout and
    probe counts are :attr:`PartitionedIndex.spec` (the manifest's ``build.index_params``,
    their one record); ``nprobe`` per scope is tuned at build time until recall@10
    against exact search reaches the target (:mod:`vibemap.indexer.recall`).

Exact search lives in :mod:`vibemap.indexer.exhaustive_search`, file I/O in
:mod:`vibemap.indexer.index_io`; their public names are re-exported here.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vibemap.indexer import index_io
from vibemap.indexer.exhaustive_search import (
    METRICS,
    exact_search,
    flat_index,
    to_index_space,
)
from vibemap.indexer.index_io import FLAT, INDEX_TYPES
from vibemap.indexer.ivf_tools import IVF_FLAT, Scope, build_grouped_ivf, ivf_spec, n_lists_for
from vibemap.indexer.metric import to_similarity
from vibemap.indexer.recall import (
    RECALL_K,
    RECALL_QUERIES,
    RECALL_TARGET,
    RecallProbe,
    measure_recall,
    recall_at_k,
    tune_nprobe,
)

__all__ = [
    "FLAT", "INDEX_TYPES", "IVF_FLAT", "METRICS", "RECALL_K", "RECALL_QUERIES", "RECALL_TARGET",
    "Partition", "PartitionedIndex", "RecallProbe", "exact_search", "index_type_for",
    "measure_recall", "n_lists_for", "partitions_from_sorted_labels", "recall_at_k",
    "to_index_space",
]


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


def index_type_for(n_rows: int, ann_threshold: int) -> str:
    """``flat`` (exact) for up to ``ann_threshold`` rows in all, ``ivf_flat`` above."""
    if ann_threshold < 0:
        raise ValueError(f"ann_threshold must be >= 0, got {ann_threshold}")
    return IVF_FLAT if n_rows > ann_threshold else FLAT


def _empty(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    empty = np.empty((len(q), 0))
    return empty.astype(np.float32), empty.astype(np.int64)


class PartitionedIndex:
    """Vibe-partitioned FAISS search: flat (one index over all rows plus one per vibe)
    or IVF-Flat (one index, inverted lists grouped by vibe); see the module docstring."""

    def __init__(
        self,
        metric: str,
        partitions: list[Partition],
        full: faiss.Index,
        parts: dict[int, faiss.Index],
        spec: dict | None = None,
    ) -> None:
        self.metric = metric
        self.partitions = {p.vibe_id: p for p in partitions}
        self.full = full
        self.parts = parts
        self.spec: dict = copy.deepcopy(spec) if spec else {"type": FLAT}
        self.kind: str = self.spec["type"]
        self.recall_at_10: dict | None = None
        self.build_seconds: dict[str, float] = {}
        self._scopes: dict[int | None, Scope] = {}
        self._params: dict[int | None, tuple] = {}
        if self.kind == IVF_FLAT:
            self._configure_ivf()

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        X: np.ndarray,
        partitions: list[Partition],
        metric: str,
        kind: str = FLAT,
        seed: int = 0,
        recall_target: float = RECALL_TARGET,
        recall_queries: int = RECALL_QUERIES,
    ) -> PartitionedIndex:
        """X : float32 (n, d) index-space vectors, rows sorted by vibe.

        ``kind`` is ``flat`` (exact) or ``ivf_flat``; for ``ivf_flat`` the probe counts
        are raised until recall@10 on ``recall_queries`` sampled rows per scope reaches
        ``recall_target`` (``recall_at_10`` holds what was measured).
        """
        if kind not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {INDEX_TYPES}, got {kind!r}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if kind == IVF_FLAT:
            full, layout, seconds = build_grouped_ivf(X, partitions, metric, seed)
            t1 = time.perf_counter()
            index = cls(metric, partitions, full, {},
                        ivf_spec(metric, layout, seed, recall_target, recall_queries))
            index.recall_at_10 = tune_nprobe(index, X, recall_target, recall_queries, seed)
            index.build_seconds = {**seconds,
                                   "tune_recall": round(time.perf_counter() - t1, 3)}
            return index
        full = flat_index(X.shape[1], metric)
        full.add(X)
        parts = {}
        for p in partitions:
            idx = flat_index(X.shape[1], metric)
            idx.add(X[p.start : p.stop])
            parts[p.vibe_id] = idx
        return cls(metric, partitions, full, parts)

    def scope_lists(self, vibe_id: int | None) -> int:
        """Inverted lists an IVF scope can probe (all lists, or the vibe's)."""
        return self._scopes[vibe_id].n_lists

    def set_nprobe(self, vibe_id: int | None, nprobe: int) -> None:
        """Set one IVF scope's probe count (recorded in :attr:`spec`)."""
        if vibe_id is None:
            self.spec["nprobe"] = nprobe
        else:
            for lay in self.spec["lists"]:
                if lay["vibe_id"] == vibe_id:
                    lay["nprobe"] = nprobe
        self._configure_ivf()

    def _configure_ivf(self) -> None:
        spec = self.spec
        if not isinstance(self.full, faiss.IndexIVF):
            raise ValueError(f"index spec says {IVF_FLAT} but the FAISS index is "
                             f"{type(self.full).__name__}")
        if int(spec["nlist"]) != self.full.nlist:
            raise ValueError(f"index spec nlist {spec['nlist']} does not match the FAISS "
                             f"index's nlist {self.full.nlist}")
        lists = {int(lay["vibe_id"]): lay for lay in spec["lists"]}
        if set(lists) != set(self.partitions):
            raise ValueError(f"index spec lists vibes {sorted(lists)}, partitions are "
                             f"{sorted(self.partitions)}")
        self.full.nprobe = int(spec["nprobe"])  # what FAISS stores in the file, too
        scopes = {None: Scope(self.ntotal, int(spec["nlist"]), int(spec["nprobe"]))}
        for v, lay in lists.items():
            start, stop = int(lay["list_start"]), int(lay["list_stop"])
            if not 0 <= start <= stop <= self.full.nlist:
                raise ValueError(f"index spec lists of vibe {v} [{start}, {stop}) fall "
                                 f"outside the index's {self.full.nlist} lists")
            scopes[v] = Scope(self.partitions[v].size, stop - start, int(lay["nprobe"]),
                              start, stop, restricted=True)
        self._scopes = scopes
        self._params = {v: s.params() for v, s in scopes.items()}

    # ----------------------------------------------------------------- search
    @property
    def ntotal(self) -> int:
        return int(self.full.ntotal)

    @property
    def index_type(self) -> str:
        return self.kind

    def search(
        self, queries: np.ndarray, limit: int, vibe_id: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest rows for each query.

        queries : float32 (q, d) in index space. Returns (scores, rows), each (q, limit);
        scores are similarities (inner product for cosine, negative squared L2 for
        euclidean) so that larger is always better; missing results have row -1
        (only when ``limit`` exceeds the scope's rows).
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind == IVF_FLAT:
            return self._search_ivf(q, limit, vibe_id)
        if vibe_id is None:
            index, offset = self.full, 0
        else:
            p = self.partitions[vibe_id]
            index, offset = self.parts[vibe_id], p.start
        k = min(limit, index.ntotal)
        if k <= 0:
            return _empty(q)
        D, I = index.search(q, k)
        rows = np.where(I >= 0, I + offset, -1)
        return to_similarity(D, self.metric), rows

    def _search_ivf(self, q: np.ndarray, limit: int, vibe_id: int | None
                    ) -> tuple[np.ndarray, np.ndarray]:
        if vibe_id is not None and vibe_id not in self.partitions:
            raise KeyError(vibe_id)
        scope = self._scopes[vibe_id]
        k = min(limit, scope.size)
        if k <= 0:
            return _empty(q)
        params, _keep = self._params[vibe_id]
        D, I = self.full.search(q, k, params=params)
        nprobe = scope.nprobe
        # The probed lists can hold fewer than k rows (a large k, or a sparse corner):
        # probe more lists until every query has k results, as exact search would.
        while (I < 0).any() and nprobe < scope.n_lists:
            nprobe = min(scope.n_lists, nprobe * 4)
            params, _keep = scope.params(nprobe)
            D, I = self.full.search(q, k, params=params)
        return to_similarity(D, self.metric), I

    # -------------------------------------------------------------------- I/O
    def file_names(self) -> dict[str, faiss.Index]:
        files = {index_io.ALL_FILE: self.full}
        files.update({index_io.part_file(v): idx for v, idx in self.parts.items()})
        return files

    def manifest_fields(self) -> dict:
        """See :func:`vibemap.indexer.index_io.manifest_fields`."""
        return index_io.manifest_fields(self)

    def save(self, directory: Path) -> list[str]:
        """Write every index file under ``directory``; returns their relative paths."""
        return index_io.save_index(self, directory)

    def release(self) -> None:
        """Drop the FAISS structures (a copy of every vector, GBs at 10M rows): the build
        does once they are saved and described in the manifest. Nothing works after."""
        self.full, self.parts, self._scopes, self._params = None, {}, {}, {}

    @classmethod
    def load(cls, directory: Path, metric: str, partitions: list[Partition], spec: dict,
             d: int) -> PartitionedIndex:
        """Read the index files of an artifact, checked against ``spec`` (the manifest's
        index type and parameters, see :func:`index_io.spec_from_manifest`) and the
        dimension ``d``; a malformed file raises ValueError."""
        full, parts = index_io.read_index_files(directory, d, metric, partitions, spec)
        params = {k: v for k, v in spec.items()
                  if k not in ("files", "build_seconds", "recall_at_10")}
        index = cls(metric, partitions, full, parts, params)
        index.recall_at_10 = spec.get("recall_at_10")
        index.build_seconds = dict(spec.get("build_seconds") or {})
        return index

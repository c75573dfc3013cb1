"""IVF-Flat with inverted lists grouped by vibe (as faiss contrib's ivf_tools): list
counts, training and filling the lists, and the search parameters of one scope."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import faiss
import numpy as np

from vibemap.indexer.exhaustive_search import faiss_metric, flat_index, to_index_space
from vibemap.indexer.recall import sample_rows

if TYPE_CHECKING:
    from vibemap.indexer.vector_index import Partition

IVF_FLAT = "ivf_flat"
SPEC_VERSION = 1
TRAIN_POINTS_PER_LIST = 64  # K-Means sample per inverted list (faiss wants 39..256)
MIN_POINTS_PER_LIST = 39
KMEANS_ITER = 20
ADD_BATCH = 1 << 20


def n_lists_for(size: int) -> int:
    """Inverted lists for a vibe of ``size`` rows: about sqrt(size) (lists of ~sqrt(size)
    rows balance the coarse search against the list scans), at least 39 rows per list."""
    if size <= 0:
        return 0
    return int(max(1, min(round(math.sqrt(size)), size // MIN_POINTS_PER_LIST)))


def _train_lists(X: np.ndarray, partitions: Sequence[Partition], metric: str, seed: int
                 ) -> tuple[list[np.ndarray], list[dict]]:
    """Per vibe, the centroids of its lists and its list range (nprobe 1 until tuned)."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    centroids, layout = [], []
    list_start = 0
    for p in partitions:
        n_lists = n_lists_for(p.size)
        if n_lists == 1:  # a small vibe: one list, its mean (no K-Means on < 39 rows)
            centroids.append(to_index_space(X[p.start : p.stop].mean(axis=0)[None], metric))
        elif n_lists:
            train = X[sample_rows(p.start, p.stop, n_lists * TRAIN_POINTS_PER_LIST, rng)]
            km = faiss.Kmeans(d, n_lists, niter=KMEANS_ITER, seed=seed + p.vibe_id,
                              spherical=metric == "cosine",
                              max_points_per_centroid=TRAIN_POINTS_PER_LIST)
            km.train(train)
            centroids.append(km.centroids)
        layout.append({"vibe_id": p.vibe_id, "list_start": list_start,
                       "list_stop": list_start + n_lists, "nprobe": min(1, n_lists)})
        list_start += n_lists
    return centroids, layout


def build_grouped_ivf(X: np.ndarray, partitions: Sequence[Partition], metric: str, seed: int
                      ) -> tuple[faiss.IndexIVFFlat, list[dict], dict[str, float]]:
    """An IVF-Flat index over all rows of ``X`` (float32 (n, d), sorted by vibe) whose lists
    are grouped by vibe; every row sits in the nearest list OF ITS OWN VIBE (ids are
    global rows). Returns the index, the list layout per vibe and the seconds spent."""
    d = X.shape[1]
    t0 = time.perf_counter()
    centroids, layout = _train_lists(X, partitions, metric, seed)
    nlist = layout[-1]["list_stop"] if layout else 0
    quantizer = flat_index(d, metric)
    quantizer.add(np.ascontiguousarray(np.concatenate(centroids), dtype=np.float32))
    full = faiss.IndexIVFFlat(quantizer, d, nlist, faiss_metric(metric))
    full.own_fields = True
    quantizer.this.disown()  # the IVF index owns (and frees) its quantizer now
    t1 = time.perf_counter()
    for p, lay in zip(partitions, layout, strict=True):
        if p.size == 0:
            continue
        sub = flat_index(d, metric)
        n_lists = lay["list_stop"] - lay["list_start"]
        sub.add(quantizer.reconstruct_n(lay["list_start"], n_lists))
        for lo in range(p.start, p.stop, ADD_BATCH):
            hi = min(p.stop, lo + ADD_BATCH)
            _, assign = sub.search(X[lo:hi], 1)
            assign = np.ascontiguousarray(assign[:, 0] + lay["list_start"], dtype=np.int64)
            ids = np.arange(lo, hi, dtype=np.int64)
            full.add_core(hi - lo, faiss.swig_ptr(X[lo:hi]), faiss.swig_ptr(ids),
                          faiss.swig_ptr(assign))
    return full, layout, {"train": round(t1 - t0, 3), "add": round(time.perf_counter() - t1, 3)}


def ivf_spec(metric: str, layout: list[dict], seed: int, recall_target: float,
             recall_queries: int) -> dict:
    """The index parameters an IVF build records (the manifest's ``build.index_params``)."""
    return {
        "type": IVF_FLAT,
        "spec_version": SPEC_VERSION,
        "metric": metric,
        "nlist": layout[-1]["list_stop"] if layout else 0,
        "nprobe": 1,
        "lists": layout,
        "quantizer": "flat, K-Means per vibe (spherical for cosine)",
        "train_points_per_list": TRAIN_POINTS_PER_LIST,
        "kmeans_iter": KMEANS_ITER,
        "seed": seed,
        "recall_target": recall_target,
        "recall_queries": recall_queries,
    }


@dataclass(frozen=True)
class Scope:
    """How one scope (all rows, or one vibe) searches an IVF index."""

    size: int
    n_lists: int
    nprobe: int
    list_start: int = 0
    list_stop: int = 0
    restricted: bool = False

    def params(self, nprobe: int | None = None) -> tuple[faiss.SearchParametersIVF, tuple]:
        """Search parameters (and the SWIG objects they point at, kept alive with them)."""
        nprobe = self.nprobe if nprobe is None else nprobe
        if not self.restricted:
            return faiss.SearchParametersIVF(nprobe=nprobe), ()
        sel = faiss.IDSelectorRange(self.list_start, self.list_stop)
        qp = faiss.SearchParameters(sel=sel)
        return faiss.SearchParametersIVF(nprobe=nprobe, quantizer_params=qp), (sel, qp)

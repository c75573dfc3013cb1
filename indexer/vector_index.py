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
    grouped by vibe: vibe ``v`` owns the lists ``[list_start_v, list_stop_v)``, trained
    by K-Means on that vibe's rows only, and every row sits in a list of its own vibe
    (ids are global rows). An across-vibe query probes the nearest lists of all vibes;
    a within-vibe query restricts the coarse search to the vibe's lists, which is an
    IVF search over that vibe's rows alone. The vectors are stored once (plus
    ``vectors.npy``), not three times. The list layout and the probe counts are in
    :attr:`PartitionedIndex.spec` (the manifest's ``build.index_params``) and in the
    sidecar ``faiss/index.json``; ``nprobe`` per scope is tuned at build time until
    recall@10 against exact search, measured on a seeded sample of rows, reaches the
    target (see :func:`measure_recall`).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vibemap.indexer.metric import METRICS, to_similarity

logger = logging.getLogger(__name__)

FLAT = "flat"
IVF_FLAT = "ivf_flat"
INDEX_TYPES = (FLAT, IVF_FLAT)
SPEC_FILE = "faiss/index.json"
SPEC_VERSION = 1

RECALL_K = 10
RECALL_TARGET = 0.99
RECALL_QUERIES = 1000
TRAIN_POINTS_PER_LIST = 64  # K-Means sample per inverted list (faiss wants 39..256)
MIN_POINTS_PER_LIST = 39
KMEANS_ITER = 20


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


def index_type_for(n_rows: int, ann_threshold: int) -> str:
    """``flat`` (exact) for up to ``ann_threshold`` rows in all, ``ivf_flat`` above."""
    if ann_threshold < 0:
        raise ValueError(f"ann_threshold must be >= 0, got {ann_threshold}")
    return IVF_FLAT if n_rows > ann_threshold else FLAT


def n_lists_for(size: int) -> int:
    """Inverted lists for a vibe of ``size`` rows: about sqrt(size) (lists of ~sqrt(size)
    rows balance the coarse search against the list scans), at least 39 rows per list."""
    if size <= 0:
        return 0
    return int(max(1, min(round(math.sqrt(size)), size // MIN_POINTS_PER_LIST)))


def _faiss_metric(metric: str) -> int:
    return faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2


def _flat(d: int, metric: str) -> faiss.Index:
    return faiss.IndexFlatIP(d) if metric == "cosine" else faiss.IndexFlatL2(d)


def exact_search(
    X: np.ndarray, queries: np.ndarray, k: int, metric: str, offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` of ``queries`` over ``X`` (no copy of ``X``).

    X : float32 (n, d) C-contiguous; queries : float32 (q, d). Returns (scores, rows),
    each (q, min(k, n)); scores larger-is-better, rows offset by ``offset``.
    """
    k = min(k, len(X))
    q = np.ascontiguousarray(queries, dtype=np.float32)
    D, I = faiss.knn(q, np.ascontiguousarray(X, dtype=np.float32), k, metric=_faiss_metric(metric))
    return to_similarity(D, metric), np.where(I >= 0, I + offset, -1)


def recall_at_k(
    approx_scores: np.ndarray,
    approx_rows: np.ndarray,
    exact_scores: np.ndarray,
    exact_rows: np.ndarray,
    k: int = RECALL_K,
) -> float:
    """Mean share of the exact top-``k`` that an approximate search found.

    All arrays are (q, >= k) with scores larger-is-better. Ties count: an approximate
    result whose score equals the exact k-th score (to float32 rounding) is a hit
    even when exact search broke the tie towards another row, so duplicate vectors
    do not read as misses.
    """
    if len(exact_rows) == 0 or k <= 0:
        return 1.0
    kk = min(k, exact_rows.shape[1])
    kth = exact_scores[:, kk - 1 : kk]
    tol = 1e-5 * np.maximum(1.0, np.abs(kth))
    A_rows, A_scores = approx_rows[:, :kk], approx_scores[:, :kk]
    in_exact = (A_rows[:, :, None] == exact_rows[:, None, :kk]).any(axis=2)
    hits = (A_rows >= 0) & (in_exact | (A_scores >= kth - tol))
    return float(np.minimum(hits.sum(axis=1), kk).mean() / kk)


def _sample_rows(start: int, stop: int, n: int, rng: np.random.Generator) -> np.ndarray:
    size = stop - start
    if size <= n:
        return np.arange(start, stop, dtype=np.int64)
    return start + np.sort(rng.choice(size, n, replace=False)).astype(np.int64)


def _drop_self(scores: np.ndarray, rows: np.ndarray, self_rows: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the first ``k`` results that are not the query's own row."""
    keep = rows != self_rows[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)


class RecallProbe:
    """Queries over one scope (rows ``[start, stop)``) with their exact top-k, computed
    once, to measure recall@k of any search over that scope (see :meth:`recall`).

    ``self_rows[i]`` is the row query ``i`` was taken from (-1 for a synthetic query);
    it is left out of both result lists, as a "similar tracks" query leaves out its seed.
    """

    def __init__(self, X: np.ndarray, start: int, stop: int, metric: str,
                 queries: np.ndarray, self_rows: np.ndarray, k: int = RECALL_K) -> None:
        self.k = k
        self.self_rows = np.asarray(self_rows, dtype=np.int64)
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.exact = None
        if stop - start > 1 and len(self.queries):
            eD, eI = exact_search(X[start:stop], self.queries, k + 1, metric, offset=start)
            self.exact = _drop_self(eD, eI, self.self_rows, k)

    @classmethod
    def of_rows(cls, X: np.ndarray, start: int, stop: int, metric: str, rows: np.ndarray,
                k: int = RECALL_K) -> RecallProbe:
        """Each row queries its own vector."""
        return cls(X, start, stop, metric, X[rows], rows, k)

    def recall(self, search) -> float:
        """``search(queries, limit) -> (scores, rows)``; returns the mean recall@k."""
        if self.exact is None:
            return 1.0
        aD, aI = _drop_self(*search(self.queries, self.k + 1), self.self_rows, self.k)
        return recall_at_k(aD, aI, *self.exact, self.k)


def _rows_outside(start: int, stop: int, n_total: int, n: int, rng: np.random.Generator
                  ) -> np.ndarray:
    """Up to ``n`` distinct rows of ``[0, n_total)`` outside ``[start, stop)``."""
    rows = _sample_rows(0, n_total - (stop - start), n, rng)
    return np.where(rows >= start, rows + (stop - start), rows)


def _blends(X: np.ndarray, n: int, metric: str, rng: np.random.Generator) -> np.ndarray:
    """Means of two random rows (as a two-seed recommendation queries), in index space."""
    pairs = rng.integers(0, len(X), (n, 2))
    return to_index_space((X[pairs[:, 0]] + X[pairs[:, 1]]) / 2, metric)


def measure_recall(
    index: PartitionedIndex, X: np.ndarray, vibe_id: int | None, n_queries: int, seed: int,
    k: int = RECALL_K,
) -> float:
    """recall@k of ``index.search`` over one scope (all rows when ``vibe_id`` is None)
    against exact search, on ``n_queries`` rows of the scope drawn with ``seed``."""
    if vibe_id is None:
        start, stop = 0, index.ntotal
    else:
        p = index.partitions[vibe_id]
        start, stop = p.start, p.stop
    rows = _sample_rows(start, stop, n_queries, np.random.default_rng(seed))
    probe = RecallProbe.of_rows(X, start, stop, index.metric, rows, k)
    return probe.recall(lambda Q, limit: index.search(Q, limit, vibe_id))


@dataclass(frozen=True)
class _Scope:
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
        self._scopes: dict[int | None, _Scope] = {}
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
            return cls._build_ivf(X, partitions, metric, seed, recall_target, recall_queries)
        full = _flat(X.shape[1], metric)
        full.add(X)
        parts = {}
        for p in partitions:
            idx = _flat(X.shape[1], metric)
            idx.add(X[p.start : p.stop])
            parts[p.vibe_id] = idx
        return cls(metric, partitions, full, parts)

    @classmethod
    def _build_ivf(
        cls, X: np.ndarray, partitions: list[Partition], metric: str, seed: int,
        recall_target: float, recall_queries: int,
    ) -> PartitionedIndex:
        n, d = X.shape
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        centroids, layout = [], []
        list_start = 0
        for p in partitions:
            n_lists = n_lists_for(p.size)
            if n_lists == 1:  # a small vibe: one list, its mean (no K-Means on < 39 rows)
                centroids.append(to_index_space(X[p.start : p.stop].mean(axis=0)[None], metric))
            elif n_lists:
                train = X[_sample_rows(p.start, p.stop, n_lists * TRAIN_POINTS_PER_LIST, rng)]
                km = faiss.Kmeans(d, n_lists, niter=KMEANS_ITER, seed=seed + p.vibe_id,
                                  spherical=metric == "cosine",
                                  max_points_per_centroid=TRAIN_POINTS_PER_LIST)
                km.train(train)
                centroids.append(km.centroids)
            layout.append({"vibe_id": p.vibe_id, "list_start": list_start,
                           "list_stop": list_start + n_lists, "nprobe": min(1, n_lists)})
            list_start += n_lists
        nlist = list_start
        quantizer = _flat(d, metric)
        quantizer.add(np.ascontiguousarray(np.concatenate(centroids), dtype=np.float32))
        full = faiss.IndexIVFFlat(quantizer, d, nlist, _faiss_metric(metric))
        full.own_fields = True
        quantizer.this.disown()  # the IVF index owns (and frees) its quantizer now
        t1 = time.perf_counter()
        for p, lay in zip(partitions, layout, strict=True):
            if p.size == 0:
                continue
            # Assign each row to the nearest list OF ITS OWN VIBE, so lists never mix vibes.
            sub = _flat(d, metric)
            n_lists = lay["list_stop"] - lay["list_start"]
            sub.add(quantizer.reconstruct_n(lay["list_start"], n_lists))
            for lo in range(p.start, p.stop, 1 << 20):
                hi = min(p.stop, lo + (1 << 20))
                _, assign = sub.search(X[lo:hi], 1)
                assign = np.ascontiguousarray(assign[:, 0] + lay["list_start"], dtype=np.int64)
                ids = np.arange(lo, hi, dtype=np.int64)
                full.add_core(hi - lo, faiss.swig_ptr(X[lo:hi]), faiss.swig_ptr(ids),
                              faiss.swig_ptr(assign))
        t2 = time.perf_counter()
        spec = {
            "type": IVF_FLAT,
            "spec_version": SPEC_VERSION,
            "metric": metric,
            "nlist": nlist,
            "nprobe": 1,
            "lists": layout,
            "quantizer": "flat, K-Means per vibe (spherical for cosine)",
            "train_points_per_list": TRAIN_POINTS_PER_LIST,
            "kmeans_iter": KMEANS_ITER,
            "seed": seed,
            "recall_target": recall_target,
            "recall_queries": recall_queries,
        }
        index = cls(metric, partitions, full, {}, spec)
        index._tune(X, recall_target, recall_queries, seed)
        t3 = time.perf_counter()
        index.build_seconds = {"train": round(t1 - t0, 3), "add": round(t2 - t1, 3),
                               "tune_recall": round(t3 - t2, 3)}
        return index

    def _tune(self, X: np.ndarray, target: float, n_queries: int, seed: int) -> None:
        """Double each scope's nprobe from 1 until recall@10 >= ``target`` on all of its
        probes (at nprobe = its list count the search is exhaustive, so this ends).

        Probes: ``n_queries`` rows of the scope querying their own vectors (the recall
        recorded as ``all`` and ``vibes``); for the all-rows scope also half as many
        blends of two rows (``all_blends``), and for a vibe half as many rows of OTHER
        vibes searching this one (``vibes_other_rows``, a vibe named explicitly).
        """
        recall: dict = {"all": None, "all_blends": None, "vibes": {}, "vibes_other_rows": {}}
        n = self.ntotal
        for vibe_id in [None, *self.partitions]:
            rng = np.random.default_rng([seed, 0 if vibe_id is None else vibe_id + 1])
            scope = self._scopes[vibe_id]
            p = self.partitions.get(vibe_id, Partition(-1, 0, n))
            probes = {"rows": RecallProbe.of_rows(
                X, p.start, p.stop, self.metric, _sample_rows(p.start, p.stop, n_queries, rng))}
            if vibe_id is None:
                Q = _blends(X, n_queries // 2, self.metric, rng)
                probes["blends"] = RecallProbe(X, 0, n, self.metric, Q, np.full(len(Q), -1))
            elif p.size < n:
                rows = _rows_outside(p.start, p.stop, n, n_queries // 2, rng)
                probes["other_rows"] = RecallProbe.of_rows(X, p.start, p.stop, self.metric, rows)
            nprobe = min(1, scope.n_lists)
            while True:
                self._set_nprobe(vibe_id, nprobe)
                r = {name: probe.recall(lambda Q, limit, v=vibe_id: self.search(Q, limit, v))
                     for name, probe in probes.items()}
                if min(r.values()) >= target or nprobe >= scope.n_lists:
                    break
                nprobe = min(scope.n_lists, nprobe * 2)
            name = "all" if vibe_id is None else f"vibe {vibe_id}"
            logger.info("ivf scope %s: nprobe %d of %d lists, recall@10 %s", name, nprobe,
                        scope.n_lists, {k: round(v, 4) for k, v in r.items()})
            if min(r.values()) < target:
                logger.warning("ivf scope %s: recall@10 %.4f below the target %.3f even when "
                               "exhaustive (ties?)", name, min(r.values()), target)
            r = {k: round(v, 5) for k, v in r.items()}
            if vibe_id is None:
                recall["all"], recall["all_blends"] = r["rows"], r["blends"]
            else:
                recall["vibes"][str(vibe_id)] = r["rows"]
                if "other_rows" in r:
                    recall["vibes_other_rows"][str(vibe_id)] = r["other_rows"]
        self.recall_at_10 = recall

    def _set_nprobe(self, vibe_id: int | None, nprobe: int) -> None:
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
        scopes = {None: _Scope(self.ntotal, int(spec["nlist"]), int(spec["nprobe"]))}
        for v, lay in lists.items():
            start, stop = int(lay["list_start"]), int(lay["list_stop"])
            scopes[v] = _Scope(self.partitions[v].size, stop - start, int(lay["nprobe"]),
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
            empty = np.empty((len(q), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
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
            empty = np.empty((len(q), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
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
        files = {"faiss/all.faiss": self.full}
        files.update({f"faiss/vibe_{v}.faiss": idx for v, idx in self.parts.items()})
        return files

    def manifest_fields(self) -> dict:
        """``build`` fields of the manifest: ``index`` (the type, a string, as the API
        reports it), ``index_params`` and ``recall_at_10`` (None for exact search)."""
        params = {k: v for k, v in self.spec.items() if k != "type"}
        if self.kind == FLAT:
            params = {"exact": True, "files": sorted(self.file_names())}
        else:
            params = {**params, "files": sorted(self.file_names()) + [SPEC_FILE]}
            if self.build_seconds:
                params["build_seconds"] = dict(self.build_seconds)
        return {"index": self.kind, "index_params": params, "recall_at_10": self.recall_at_10}

    def save(self, directory: Path) -> list[str]:
        """Write every index file under ``directory``; returns their relative paths."""
        written = []
        for rel, index in self.file_names().items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            faiss.write_index(index, str(path))
            written.append(rel)
        if self.kind != FLAT:
            spec = {**self.spec, "recall_at_10": self.recall_at_10}
            (directory / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n",
                                               encoding="utf-8")
            written.append(SPEC_FILE)
        return written

    @classmethod
    def load(
        cls, directory: Path, metric: str, partitions: list[Partition], spec: dict | None = None
    ) -> PartitionedIndex:
        """Read the index files of an artifact.

        ``spec`` : the manifest's ``build.index_params`` plus ``type`` (optional). An
        IVF index takes its list layout and probe counts from it, else from the
        sidecar ``faiss/index.json``; when both are there they must agree.
        """
        directory = Path(directory)
        sidecar = directory / SPEC_FILE
        saved = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else None
        kind = (spec or saved or {"type": FLAT}).get("type", FLAT)
        if kind == FLAT:
            full = faiss.read_index(str(directory / "faiss/all.faiss"))
            parts = {
                p.vibe_id: faiss.read_index(str(directory / f"faiss/vibe_{p.vibe_id}.faiss"))
                for p in partitions
            }
            return cls(metric, partitions, full, parts)
        if kind != IVF_FLAT:
            raise ValueError(f"unknown index type {kind!r} (this vibemap reads {INDEX_TYPES})")
        if saved is None and spec is None:
            raise ValueError(f"{sidecar}: missing; an {IVF_FLAT} index needs its list layout")
        chosen = dict(spec or saved)
        if spec is not None and saved is not None:
            for key in ("type", "nlist", "nprobe", "lists", "metric"):
                if spec.get(key) != saved.get(key):
                    raise ValueError(f"index {key}: manifest has {spec.get(key)!r}, "
                                     f"{SPEC_FILE} has {saved.get(key)!r}")
        if chosen.get("metric", metric) != metric:
            raise ValueError(f"index metric {chosen.get('metric')!r} does not match the "
                             f"artifact's metric {metric!r}")
        full = faiss.read_index(str(directory / "faiss/all.faiss"))
        index = cls(metric, partitions, full, {},
                    {k: v for k, v in chosen.items() if k != "recall_at_10"})
        index.recall_at_10 = chosen.get("recall_at_10") or (saved or {}).get("recall_at_10")
        return index

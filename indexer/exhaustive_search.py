"""Exact search and the index space: arrays in, arrays out (as faiss contrib's
exhaustive_search). How a metric's distances become larger-is-better scores is
:mod:`vibemap.indexer.metric`'s one rule."""

from __future__ import annotations

import faiss
import numpy as np

from vibemap.indexer.metric import METRICS, to_similarity


def to_index_space(Z: np.ndarray, metric: str) -> np.ndarray:
    """Z-scores -> the vectors the index stores: unit rows for cosine, as-is for euclidean.

    Z : float array of shape (n, d). Returns a C-contiguous float32 copy.
    A zero row stays zero under cosine (it matches nothing better than anything else).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    X = np.array(Z, dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        normalise_rows(X)
    return X


def normalise_rows(X: np.ndarray, chunk_rows: int = 1 << 16) -> np.ndarray:
    """Divide each row of the float array ``X`` by its L2 norm in place (a zero row stays
    zero), a block of rows at a time: each row's norm is the one ``np.linalg.norm`` gives
    for the whole array, without its n x d temporary (GBs at 10M rows)."""
    for start in range(0, len(X), chunk_rows):
        block = X[start : start + chunk_rows]
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, norms, out=block, where=norms > 0)
    return X


def faiss_metric(metric: str) -> int:
    """The FAISS metric constant of a vibemap metric."""
    return faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2


def flat_index(d: int, metric: str) -> faiss.Index:
    """An empty exact FAISS index of dimension ``d`` for ``metric``."""
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
    D, I = faiss.knn(q, np.ascontiguousarray(X, dtype=np.float32), k, metric=faiss_metric(metric))
    return to_similarity(D, metric), np.where(I >= 0, I + offset, -1)

"""The two similarity metrics and their one sign rule: every score vibemap returns is
larger-is-better, whichever metric the artifact was built with.

cosine : inner product of unit vectors (FAISS ``METRIC_INNER_PRODUCT``), as is.
euclidean : squared L2 distance (FAISS ``METRIC_L2``), negated.
"""

from __future__ import annotations

import numpy as np

METRICS = ("cosine", "euclidean")


def to_similarity(D: np.ndarray, metric: str) -> np.ndarray:
    """FAISS distances -> larger-is-better scores (negative squared L2 for euclidean)."""
    return -D if metric == "euclidean" else D


def similarities(X: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Exact larger-is-better scores of every row of ``X`` to one query ``q``.

    X : float array of shape (n, d) in index space; q : float array of shape (d,).
    Returns an array of shape (n,) in the dtype of ``X @ q``.
    """
    if metric == "cosine":
        return to_similarity(X @ q, metric)
    diff = X - q
    return to_similarity(np.einsum("ij,ij->i", diff, diff), metric)

"""Argument checks shared by the analyses: one clear ValueError per bad input."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike


def as_matrix(X: ArrayLike, dtype: DTypeLike = np.float64, name: str = "X") -> np.ndarray:
    """A finite, non-empty 2-D numeric array as a C-contiguous ``dtype`` array."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def as_labels(labels: ArrayLike, n: int, name: str = "labels") -> np.ndarray:
    """Integer labels of shape (n,) as int64."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64)

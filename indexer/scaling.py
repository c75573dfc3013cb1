"""The scale stage one feature at a time: the same scaler and z-scores, to the bit, as
:func:`~vibemap.indexer.personalities.fit_scaler` and ``Scaler.transform`` of the n x d
float64 feature matrix the build used to take from the table (pandas gives it in
Fortran order), without that matrix (0.7 GB at 10M rows) or ``std``'s temporary of the
same size.

In a Fortran-ordered matrix each column is contiguous, so numpy reduces it over axis 0
column by column with the same (pairwise) summation as the column alone; the
z-scores are element-wise. tests/test_scaling.py checks the bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vibemap.indexer.personalities import Scaler, scaler_from_moments


def fit_and_scale(columns: Sequence[np.ndarray]) -> tuple[Scaler, np.ndarray]:
    """``fit_scaler(F)`` and ``fit_scaler(F).transform(F)`` for the Fortran-ordered float64
    matrix F whose columns are ``columns`` (one per feature): the z-scores float32 (n, d),
    Fortran-ordered as that transform's were."""
    n, d = len(columns[0]), len(columns)
    mean, var = np.empty(d), np.empty(d)
    for j, column in enumerate(columns):
        x = np.asarray(column, dtype=np.float64)
        mean[j] = np.add.reduce(x) / n  # numpy's _mean: the sum, true-divided by n
        deviation = x - np.add.reduce(x) / n  # _var: subtract, square, sum, divide
        np.square(deviation, out=deviation)
        var[j] = np.add.reduce(deviation) / n
    scaler = scaler_from_moments(mean, np.sqrt(var))
    Z = np.empty((n, d), dtype=np.float32, order="F")
    for j, column in enumerate(columns):
        z = np.asarray(column, dtype=np.float64) - scaler.mean[j]
        z /= scaler.scale[j]
        Z[:, j] = z
    return scaler, Z

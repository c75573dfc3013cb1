"""Repeated keys among a table's rows, as ``DataFrame.duplicated(keep="first")`` answers,
with the memory of a few integer arrays (the cleaning's duplicate ids and tracks at 10M
rows: a frame of key columns, or a hash table of Python strings, costs GBs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def repeated(codes: np.ndarray) -> np.ndarray:
    """True where ``codes[i]`` occurred earlier, for codes numbered in order of first
    appearance (as ``pd.factorize`` numbers them): row i is a first occurrence exactly when
    its code exceeds every code before it."""
    codes = np.asarray(codes)
    out = np.zeros(len(codes), dtype=bool)
    if len(codes) > 1:
        np.less_equal(codes[1:], np.maximum.accumulate(codes)[:-1], out=out[1:])
    return out


def duplicated_rows(columns: Sequence[Callable[[], object]], n_rows: int) -> np.ndarray:
    """``DataFrame(columns).duplicated(keep="first")``, one key column at a time.

    Each column (a callable, so only one exists at once) is factorized as
    ``DataFrame.duplicated`` does, and its codes folded into one group id per row,
    renumbered in order of first appearance after every column.
    """
    group = np.zeros(n_rows, dtype=np.int64)
    for make in columns:
        codes, uniques = pd.factorize(make(), use_na_sentinel=False)
        group *= len(uniques)  # in place, each temporary freed before the next factorize
        group += codes
        del codes, uniques
        group = pd.factorize(group)[0]
    return repeated(group)


def duplicated_among(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Over all of ``values``: True at each of ``rows`` (ascending) whose value occurred at
    an earlier one of ``rows``; False elsewhere. ``values.where(mask).duplicated() & mask``
    for a ``values`` without missing entries, through integer codes."""
    out = np.zeros(len(values), dtype=bool)
    codes = pd.factorize(values)[0][rows]
    out[rows] = repeated(pd.factorize(codes)[0])
    return out

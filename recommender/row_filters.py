"""A recommendation's exact row filters evaluated over the mapped columns, for a range of
rows (a whole scope) or for a few rows picked anywhere (the rows a cone walk takes):
one set of rules, vectorised either way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vibemap.recommender.query import RowFilters

Rows = slice | np.ndarray  # [start, stop) with step 1, or an int64 array of rows
# a range's mask is computed this many rows at a time (10M rows, a year range and an
# excluded artist: 47 -> 22 ms; bench/RESULTS.md, "Measured design choices")
BLOCK_ROWS = 1 << 18
FEW_CODES = 8  # up to this many excluded artists are compared one by one, not by np.isin


def _has_label(label_rows: np.ndarray, rows: Rows, size: int) -> np.ndarray:
    """bool (size,): which of ``rows`` are among ``label_rows`` (ascending)."""
    if isinstance(rows, slice):
        out = np.zeros(size, dtype=bool)
        lo, hi = np.searchsorted(label_rows, [rows.start, rows.stop])
        out[np.asarray(label_rows[lo:hi]) - rows.start] = True
        return out
    if not len(label_rows):
        return np.zeros(size, dtype=bool)
    pos = np.minimum(np.searchsorted(label_rows, rows), len(label_rows) - 1)
    return np.asarray(label_rows[pos]) == rows


@dataclass(frozen=True)
class FilterColumns:
    """The columns the filters read: ``F`` float64 (n, d) features in original units (its
    columns by ``feature_col``), popularity and release years (NaN: unknown, failing any
    bound), each row's artist code, and the ascending rows of a folded genre label."""

    F: np.ndarray
    feature_col: dict[str, int]
    popularity: np.ndarray
    years: np.ndarray
    artist_code: np.ndarray
    genre_rows: Callable[[str], np.ndarray | None]

    def mask(self, filters: RowFilters, rows: Rows, exclude_codes: list[int]) -> np.ndarray:
        """bool per row of ``rows``: whether it passes ``filters`` (artists excluded by
        their codes, ``exclude_codes``). A long range is taken ``BLOCK_ROWS`` at a time, so
        that a column read twice (a year range) and the temporaries stay in the cache."""
        if not isinstance(rows, slice) or rows.stop - rows.start <= BLOCK_ROWS:
            return self._mask(filters, rows, exclude_codes)
        out = np.empty(rows.stop - rows.start, dtype=bool)
        for start in range(rows.start, rows.stop, BLOCK_ROWS):
            stop = min(rows.stop, start + BLOCK_ROWS)
            out[start - rows.start:stop - rows.start] = self._mask(
                filters, slice(start, stop), exclude_codes)
        return out

    def _mask(self, filters: RowFilters, rows: Rows, exclude_codes: list[int]) -> np.ndarray:
        size = rows.stop - rows.start if isinstance(rows, slice) else len(rows)
        mask = np.ones(size, dtype=bool)
        for f, v in filters.mins.items():
            mask &= self.F[rows, self.feature_col[f]] >= v
        for f, v in filters.maxs.items():
            mask &= self.F[rows, self.feature_col[f]] <= v
        if filters.min_popularity is not None or filters.max_popularity is not None:
            pop = self.popularity[rows]
            if filters.min_popularity is not None:
                mask &= pop >= filters.min_popularity
            if filters.max_popularity is not None:
                mask &= pop <= filters.max_popularity
        if filters.min_year is not None:  # unknown years (NaN) fail year bounds
            mask &= self.years[rows] >= filters.min_year
        if filters.max_year is not None:
            mask &= self.years[rows] <= filters.max_year
        if filters.genres:
            any_genre = np.zeros(size, dtype=bool)
            for token in filters.genres:
                label_rows = self.genre_rows(token)
                if label_rows is not None:
                    any_genre |= _has_label(label_rows, rows, size)
            mask &= any_genre
        if exclude_codes:
            codes = self.artist_code[rows]
            if len(exclude_codes) <= FEW_CODES:  # np.isin builds a lookup table per call
                for code in exclude_codes:
                    mask &= codes != code
            else:
                mask &= ~np.isin(codes, exclude_codes)
        return mask

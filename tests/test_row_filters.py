"""A recommendation's row filters (recommender/row_filters.py): the mask of a range, taken
block by block, and of picked rows equal the rules applied row by row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vibemap.recommender import row_filters
from vibemap.recommender.query import RowFilters
from vibemap.recommender.row_filters import FilterColumns

FEATURES = ["energy", "valence"]
GENRES = ["pop", "rock", "jazz"]


def columns(rng: np.random.Generator, n: int) -> FilterColumns:
    """n rows: features in [0, 1] on a grid of tenths (bounds hit exactly), popularity and
    years with unknowns (NaN), artist codes 0-11, each row carrying 0-2 genre labels."""
    F = rng.integers(0, 11, size=(n, len(FEATURES))) / 10
    popularity = rng.integers(0, 101, size=n).astype(np.float64)
    popularity[rng.random(n) < 0.1] = np.nan
    years = rng.integers(1960, 2021, size=n).astype(np.float64)
    years[rng.random(n) < 0.1] = np.nan
    labels = {g: np.flatnonzero(rng.random(n) < 0.3).astype(np.int64) for g in GENRES}
    return FilterColumns(F, {f: j for j, f in enumerate(FEATURES)}, popularity, years,
                         rng.integers(0, 12, size=n).astype(np.int32), labels.get)


def passes(c: FilterColumns, f: RowFilters, codes: list[int], row: int) -> bool:
    """The rules, one row at a time: inclusive bounds, unknown values fail a bound."""
    def within(value: float, lo: float | None, hi: float | None) -> bool:
        if lo is None and hi is None:
            return True
        return not math.isnan(value) and (lo is None or value >= lo) and \
            (hi is None or value <= hi)

    return (all(c.F[row, c.feature_col[k]] >= v for k, v in f.mins.items())
            and all(c.F[row, c.feature_col[k]] <= v for k, v in f.maxs.items())
            and within(c.popularity[row], f.min_popularity, f.max_popularity)
            and within(c.years[row], f.min_year, f.max_year)
            and (not f.genres or any(row in set(c.genre_rows(g).tolist())
                                     for g in f.genres if c.genre_rows(g) is not None))
            and int(c.artist_code[row]) not in codes)


bound = st.none() | st.integers(0, 10).map(lambda x: x / 10)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 120), block=st.integers(1, 40),
       lo=bound, hi=bound, pop=st.none() | st.integers(0, 100),
       year=st.none() | st.integers(1960, 2020),
       genres=st.lists(st.sampled_from([*GENRES, "polka"]), max_size=2),
       codes=st.lists(st.integers(0, 13), max_size=12, unique=True))
def test_masks_are_the_rules_row_by_row(monkeypatch: pytest.MonkeyPatch, seed: int, n: int,
                                        block: int, lo: float | None, hi: float | None,
                                        pop: int | None, year: int | None, genres: list[str],
                                        codes: list[int]) -> None:
    """Over a range (block by block when longer than BLOCK_ROWS, which is set small here)
    and over picked rows; with few excluded artists (compared one by one) and many
    (np.isin)."""
    monkeypatch.setattr(row_filters, "BLOCK_ROWS", block)
    rng = np.random.default_rng(seed)
    c = columns(rng, n)
    f = RowFilters({} if lo is None else {"energy": lo}, {} if hi is None else {"valence": hi},
                   pop, None, genres, [], year, None if year is None else year + 10)
    want = np.array([passes(c, f, codes, r) for r in range(n)])
    start = int(rng.integers(0, n))
    np.testing.assert_array_equal(c.mask(f, slice(start, n), codes), want[start:])
    picked = np.sort(rng.choice(n, size=min(n, 7), replace=False)).astype(np.int64)
    np.testing.assert_array_equal(c.mask(f, picked, codes), want[picked])

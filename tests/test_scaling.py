"""The build's scale stage, one feature at a time, gives the bits of the whole-matrix
fit_scaler + transform (on the Fortran-ordered matrix pandas hands the build)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibemap.indexer.personalities import fit_scaler
from vibemap.indexer.scaling import fit_and_scale


def _same_bits(F: np.ndarray) -> None:
    F = np.asfortranarray(F)
    want = fit_scaler(F)
    scaler, Z = fit_and_scale([F[:, j].copy() for j in range(F.shape[1])])
    np.testing.assert_array_equal(scaler.mean.view(np.uint64), want.mean.view(np.uint64))
    np.testing.assert_array_equal(scaler.scale.view(np.uint64), want.scale.view(np.uint64))
    np.testing.assert_array_equal(Z.view(np.uint32), want.transform(F).view(np.uint32))
    assert Z.flags.f_contiguous


@pytest.mark.parametrize("n", [1, 2, 9, 1000, 300_001])
def test_fit_and_scale_matches_the_whole_matrix(n: int) -> None:
    rng = np.random.default_rng(n)
    _same_bits(rng.normal(size=(n, 9)) * rng.uniform(1e-3, 200, 9) + rng.uniform(-60, 100, 9))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, -0.0, 0.5, 0.1234567, 1.0, -60.0, 250.0]),
                         min_size=3, max_size=3), min_size=1, max_size=30))
def test_fit_and_scale_matches_on_ties_and_constants(rows: list[list[float]]) -> None:
    _same_bits(np.array(rows, dtype=np.float64))


@pytest.mark.parametrize(("n", "start"), [(70_001, 0), (140_003, 777)])
def test_typical_rows_distances_by_column_match_the_whole_vibe(n: int, start: int) -> None:
    """vibe_facts computes a big vibe's distances a block of rows at a time, column by
    column; the bits equal numpy's sum over axis 1 of the whole Fortran-ordered block."""
    from vibemap.indexer.vibe_facts import _distances_by_column
    from vibemap.indexer.writing import FeatureRows

    rng = np.random.default_rng(n)
    F = np.asfortranarray(np.round(rng.normal(size=(n, 9)) * rng.uniform(0.1, 50, 9), 2))
    scaler, centroid = fit_scaler(F), np.round(rng.normal(size=9), 6)
    rows = FeatureRows([F[:, j].copy() for j in range(9)])
    block = rows[start:n]
    np.testing.assert_array_equal(block, F[start:n])
    assert block.flags.f_contiguous
    want = (((F[start:n] - scaler.mean) / scaler.scale - centroid) ** 2).sum(axis=1)
    got = _distances_by_column(block, scaler.mean, scaler.scale, centroid)
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))

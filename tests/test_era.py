"""The era dimension: standardised release years appended, weighted, to the z-scores."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from factories import make_tracks, write_tracks_csv
from vibemap.indexer.era import (
    MISSING_POLICY,
    EraScaler,
    append_era,
    era_vectors,
    fit_era_scaler,
    standardised_years,
)
from vibemap.indexer.vector_index import to_index_space

REPO = Path(__file__).resolve().parents[1]

# any float, NaN and infinities included, as a release-year column might hold after parsing
any_years = hnp.arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)
plausible_years = st.one_of(st.floats(1900, 2030), st.just(float("nan")))


def _cosine_neighbours(Z: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    X = to_index_space(Z, "cosine")
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    return index.search(X, limit)


def era_column(years: np.ndarray) -> np.ndarray:
    """The standardised year column of a catalogue fitted on its own years (as the build does)."""
    scaler = fit_era_scaler(years, weight=1.0)
    return standardised_years(years, scaler.mean, scaler.scale)


# --------------------------------------------------------------------------- known answers


def test_known_years_standardise_and_missing_years_are_zero():
    years = np.array([1970.0, np.nan, 1990.0, 2010.0])
    z = era_column(years)
    std = np.std([1970.0, 1990.0, 2010.0])
    np.testing.assert_allclose(z, [-20 / std, 0.0, 0.0, 20 / std])
    scaler = fit_era_scaler(years, weight=0.5)
    assert scaler.mean == pytest.approx(1990.0)
    assert scaler.scale == pytest.approx(std)
    assert scaler.n_known == 3
    np.testing.assert_allclose(scaler.transform(years), 0.5 * z, rtol=1e-6)


@pytest.mark.parametrize(
    "years",
    [np.full(5, np.nan), np.full(4, 1999.0), np.array([2001.0, np.nan, 2001.0]), np.array([])],
    ids=["all-missing", "constant", "constant-with-missing", "empty"],
)
def test_no_information_gives_a_neutral_column(years):
    assert np.array_equal(era_column(years), np.zeros(len(years)))
    scaler = fit_era_scaler(years, weight=2.0)
    assert np.array_equal(scaler.transform(years), np.zeros(len(years), dtype=np.float32))


def test_append_keeps_the_features_and_weights_the_column():
    Z = np.arange(18, dtype=np.float32).reshape(2, 9)
    out = append_era(Z, np.array([1.0, -2.0]), weight=0.25)
    assert out.shape == (2, 10) and out.dtype == np.float32
    assert np.array_equal(out[:, :9], Z)
    assert np.array_equal(out[:, 9], [0.25, -0.5])


def test_era_brings_same_era_tracks_closer():
    # two pairs of identical-sounding tracks; the era splits each pair across decades
    Z = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    years = np.array([1970.0, 2020.0, 1970.0, 2020.0])
    X, _ = era_vectors(Z, years, weight=0.0)
    assert _cosine_neighbours(X, 2)[1][0, 1] == 1  # sound only: the 2020 twin
    X, _ = era_vectors(Z, years, weight=100.0)
    assert _cosine_neighbours(X, 2)[1][0, 1] == 2  # era dominates: the other 1970 track


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": -1.0}, "weight"),
        ({"weight": float("nan")}, "weight"),
        ({"weight": float("inf")}, "weight"),
    ],
)
def test_bad_weights_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_era_scaler(np.array([2000.0, 2001.0]), **kwargs)
    with pytest.raises(ValueError, match=message):
        append_era(np.zeros((2, 9)), np.zeros(2), **kwargs)


def test_append_refuses_mismatched_or_non_finite_input():
    with pytest.raises(ValueError, match="shape"):
        append_era(np.zeros((3, 9)), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="finite"):
        append_era(np.zeros((2, 9)), np.array([0.0, np.nan]), 1.0)


def test_scaler_round_trips_through_json():
    scaler = fit_era_scaler(np.array([1960.0, np.nan, 2000.0]), weight=0.5)
    data = json.loads(json.dumps(scaler.to_dict()))
    assert data["missing"] == MISSING_POLICY == "catalogue mean"
    assert data["column"] == "release_year"
    assert EraScaler.from_dict(data) == scaler
    empty = fit_era_scaler(np.full(3, np.nan), weight=1.0)
    assert empty.mean is None and not empty.active
    assert EraScaler.from_dict(json.loads(json.dumps(empty.to_dict()))) == empty


def test_scaler_refuses_unknown_policy_and_bad_scale():
    with pytest.raises(ValueError, match="policy"):
        EraScaler(mean=2000.0, scale=1.0, weight=1.0, missing="drop")
    with pytest.raises(ValueError, match="scale"):
        EraScaler(mean=2000.0, scale=0.0, weight=1.0)


# --------------------------------------------------------------------------- properties


@given(years=any_years, weight=st.floats(0, 1e6))
def test_era_coordinates_are_always_finite(years, weight):
    assert np.isfinite(era_column(years)).all()
    scaler = fit_era_scaler(years, weight)
    assert np.isfinite(scaler.transform(years)).all()
    X, _ = era_vectors(np.zeros((years.size, 9)), years, weight)
    assert np.isfinite(X).all()


@given(
    years=hnp.arrays(np.float64, st.integers(2, 40), elements=plausible_years),
    weight=st.floats(0, 10),
)
def test_missing_years_are_neutral(years, weight):
    """A track without a year sits at the catalogue mean: its era coordinate is exactly 0,
    and the mean of the known tracks' coordinates is 0 too (it favours no era)."""
    coords = fit_era_scaler(years, weight).transform(years)
    missing = np.isnan(years)
    assert np.array_equal(coords[missing], np.zeros(missing.sum(), dtype=np.float32))
    if (~missing).any():
        assert abs(float(coords[~missing].astype(np.float64).mean())) <= 1e-4 * max(weight, 1)


@settings(max_examples=60)
@given(
    Z=hnp.arrays(
        np.float32,
        st.tuples(st.integers(2, 30), st.just(9)),
        elements=st.floats(-5, 5, width=32),
    ),
    data=st.data(),
)
def test_weight_zero_gives_exactly_the_nine_feature_neighbours(Z, data):
    """W = 0: the column is exactly 0.0 and faiss returns the very same cosine neighbours
    and scores (bit for bit) as over the nine features alone."""
    n = Z.shape[0]
    years = data.draw(hnp.arrays(np.float64, n, elements=plausible_years))
    X, _ = era_vectors(Z, years, weight=0.0)
    assert np.array_equal(X[:, :9], Z)
    assert not X[:, 9].any()
    limit = min(n, 10)
    D9, I9 = _cosine_neighbours(Z, limit)
    D10, I10 = _cosine_neighbours(X, limit)
    assert np.array_equal(I9, I10)
    assert np.array_equal(D9, D10)


def test_standardised_years_with_no_fit_is_zero():
    assert np.array_equal(standardised_years(np.array([1999.0, np.nan]), None, 1.0), [0.0, 0.0])


# --------------------------------------------------------------------------- the benchmark


@pytest.fixture
def run_bench(monkeypatch, capsys):
    """bench/bench_era.py's main() in this process (a subprocess costs ~10 s of imports)."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location("bench_era", REPO / "bench" / "bench_era.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["bench_era.py", "--no-default", *args])
        code = module.main()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_bench_measures_the_gain_and_stays_neutral_without_years(tmp_path: Path, run_bench):
    frame = make_tracks(n=400, seed=3)
    years = frame["release_date"].str.slice(0, 4).astype(int)
    frame["genres"] = np.where(years < 1992, "oldies", "modern")  # genre follows the era
    frame.to_csv(tmp_path / "eras.csv", index=False)
    frame.assign(release_date="").to_csv(tmp_path / "no_years.csv", index=False)
    out = tmp_path / "era.json"
    code, stdout, stderr = run_bench(
        "--csv",
        str(tmp_path / "eras.csv"),
        "--csv",
        str(tmp_path / "no_years.csv"),
        "--json",
        str(out),
    )
    assert code == 0, stderr
    report = json.loads(out.read_text())
    eras, no_years = report["results"]
    assert eras["by_weight"]["1"] > eras["by_weight"]["0"] + 0.1
    assert eras["audio_overlap"]["0"] == 1.0 and eras["audio_overlap"]["2"] < 1.0
    assert no_years["era_neutral"] and no_years["n_with_year"] == 0
    assert len(set(no_years["by_weight"].values())) == 1  # every W gives the W = 0 figure
    assert "| eras | 400 |" in stdout and "no years: era neutral" in stdout


@pytest.mark.parametrize("weights", ["-1", "a,b", "nan"])
def test_bench_refuses_bad_weights(tmp_path: Path, run_bench, weights: str):
    csv = write_tracks_csv(tmp_path / "t.csv", n=50)
    code, _, stderr = run_bench("--csv", str(csv), "--weights", weights)
    assert code == 2 and "--weights" in stderr

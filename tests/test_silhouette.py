"""Exact multi-labeling silhouette: sklearn is the oracle, on random shapes and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import silhouette_samples, silhouette_score

import vibemap.indexer.validation.silhouette as sil
from vibemap.indexer.validation.silhouette import silhouette_samples_multi

TOL = 1e-4


@st.composite
def problems(draw: st.DrawFn, max_n: int = 300) -> tuple[np.ndarray, list[np.ndarray]]:
    """Random points plus 1..4 labelings, one of them with a singleton cluster."""
    n = draw(st.integers(3, max_n))
    d = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-2, 1.0, 30.0]))
    X = (rng.normal(size=(n, d)) * scale + rng.normal(size=d) * 5 * scale).astype(np.float32)
    labelings = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(2, min(n - 1, 12)))
        labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        labelings.append(rng.permutation(labels))
    if n >= 4:
        # One point alone in an extra cluster: sklearn scores it 0.
        lone = np.asarray(labelings[0]).copy()
        lone[rng.integers(n)] = lone.max() + 1
        if np.unique(lone).shape[0] < n:
            labelings[0] = lone
    return X, labelings


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_matches_sklearn_per_sample_and_mean(problem: tuple[np.ndarray, list[np.ndarray]]):
    X, labelings = problem
    results = silhouette_samples_multi(X, labelings, chunk_size=64)  # float64 at this size
    assert len(results) == len(labelings)
    for labels, got in zip(labelings, results, strict=True):
        assert got.shape == (X.shape[0],) and got.dtype == np.float64
        expected = silhouette_samples(X.astype(np.float64), labels)
        np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)
        assert abs(got.mean() - silhouette_score(X.astype(np.float64), labels)) < TOL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_float32_tiles_match_sklearn(problem: tuple[np.ndarray, list[np.ndarray]]):
    # float32's norm trick has absolute error ~sqrt(eps) * spread on the shortest distances:
    # the mean stays within 1e-4 (seen: 2e-6), one point only within ~1e-3 (seen: 2e-4,
    # 1-D data with tiny tight clusters). See FLOAT64_UP_TO.
    X, labelings = problem
    results = silhouette_samples_multi(X, labelings, chunk_size=64, dtype=np.float32)
    for labels, got in zip(labelings, results, strict=True):
        expected = silhouette_samples(X.astype(np.float64), labels)
        np.testing.assert_allclose(got, expected, atol=1e-3, rtol=0)
        assert abs(got.mean() - expected.mean()) < TOL


def test_float32_on_standardised_clusters_is_close_per_sample():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 9)).astype(np.float32)
    X[:1000] += 3.0
    labelings = _nested_labelings(X)
    got = silhouette_samples_multi(X, labelings, dtype=np.float32)
    for labels, values in zip(labelings, got, strict=True):
        np.testing.assert_allclose(values, silhouette_samples(X, labels), atol=1e-5, rtol=0)


@settings(max_examples=30, deadline=None)
@given(problems(max_n=90), st.integers(1, 100), st.integers(1, 3))
def test_chunk_size_and_threads_do_not_change_the_result(
    problem: tuple[np.ndarray, list[np.ndarray]], chunk_size: int, n_threads: int
):
    X, labelings = problem
    reference = silhouette_samples_multi(X, labelings, chunk_size=X.shape[0], n_threads=1)
    other = silhouette_samples_multi(X, labelings, chunk_size=chunk_size, n_threads=n_threads)
    for a, b in zip(reference, other, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def _nested_labelings(X: np.ndarray) -> list[np.ndarray]:
    """K-Means-like labelings (cuts along directions) that form a few big cells."""
    return [np.digitize(X[:, 0], np.quantile(X[:, 0], np.linspace(0, 1, k + 1)[1:-1]))
            for k in (2, 3, 5)] + [(X[:, 1] > 0).astype(int)]


@pytest.mark.parametrize(
    ("max_runs", "budget"),
    [(32, 256 * 2**20), (1, 256 * 2**20), (10**6, 256 * 2**20), (10**6, 4 * 40)],
    ids=["default", "all-onehot", "all-runs", "tiny-run-table"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_run_and_onehot_paths_agree(
    monkeypatch: pytest.MonkeyPatch, max_runs: int, budget: int, dtype: type
):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    labelings = _nested_labelings(X)
    monkeypatch.setattr(sil, "_MAX_RUNS", max_runs)
    monkeypatch.setattr(sil, "_RUN_SUMS_BUDGET_BYTES", budget)
    got = silhouette_samples_multi(X, labelings, chunk_size=37, n_threads=2, dtype=dtype)
    for labels, values in zip(labelings, got, strict=True):
        np.testing.assert_allclose(values, silhouette_samples(X, labels), atol=TOL, rtol=0)


def test_float64_handles_exact_duplicates_across_clusters():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, size=(120, 3)).astype(np.float64)  # many identical points
    labels = rng.integers(0, 5, size=120)
    got = silhouette_samples_multi(X, [labels], dtype=np.float64, chunk_size=50)[0]
    np.testing.assert_allclose(got, silhouette_samples(X, labels), atol=1e-6, rtol=0)


def test_singletons_score_zero_and_self_distance_is_excluded():
    X = np.array([[0.0], [1.0], [10.0], [11.0], [30.0]])
    labels = np.array([0, 0, 1, 1, 2])  # point 4 alone
    got = silhouette_samples_multi(X, [labels])[0]
    assert got[4] == 0.0
    # Point 0: a = 1 (only point 1; itself excluded), b = min(mean(10, 11), 30) = 10.5.
    assert got[0] == pytest.approx((10.5 - 1.0) / 10.5, abs=1e-6)
    np.testing.assert_allclose(got, silhouette_samples(X, labels), atol=1e-6)


def test_score_matches_sklearn_and_accepts_any_label_values():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 9)).astype(np.float32)
    labels = rng.choice(np.array(["calm", "party", "rap"]), size=200)
    (samples,) = silhouette_samples_multi(X, [labels])
    assert float(samples.mean()) == pytest.approx(
        silhouette_score(X, labels), abs=TOL
    )


def test_all_distances_zero_scores_zero_like_sklearn():
    X = np.zeros((6, 2))
    labels = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(silhouette_samples_multi(X, [labels])[0], np.zeros(6))


def test_empty_list_of_labelings():
    assert silhouette_samples_multi(np.zeros((3, 2)), []) == []


@pytest.mark.parametrize(
    ("X", "labels", "match"),
    [
        (np.zeros((4, 2)), np.zeros(4), "number of labels is 1"),
        (np.arange(8.0).reshape(4, 2), np.arange(4), "number of labels is 4"),
        (np.array([[0.0], [1.0]]), np.array([0, 1]), "number of labels is 2"),
        (np.zeros((4, 2)), np.array([0, 1, 0]), r"shape \(4,\)"),
        (np.array([[np.nan, 0.0], [1, 1], [2, 2]]), np.array([0, 1, 1]), "NaN"),
        (np.zeros(4), np.array([0, 1, 0, 1]), "n_samples"),
    ],
)
def test_invalid_input_raises(X: np.ndarray, labels: np.ndarray, match: str):
    with pytest.raises(ValueError, match=match):
        silhouette_samples_multi(X, [labels])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"chunk_size": 0}, "chunk_size"), ({"dtype": np.int32}, "dtype"),
     ({"n_threads": 0}, "n_threads")],
)
def test_invalid_options_raise(kwargs: dict, match: str):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=match):
        silhouette_samples_multi(X, [np.array([0, 0, 1, 1])], **kwargs)

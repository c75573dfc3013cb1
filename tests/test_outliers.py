"""DBSCAN outliers: known far points are flagged, and the result equals sklearn's DBSCAN."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from vibemap.indexer.validation.outliers import find_outliers, knee_of_curve


def blobs_with_far_points(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight blobs of 150 tracks in 9-D and 4 lone tracks far from all of them."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, 9))
    centres[0, 0], centres[1, 1], centres[2, 2] = 8.0, 8.0, 8.0
    blobs = np.concatenate([c + rng.normal(0, 0.5, size=(150, 9)) for c in centres])
    far = np.array([[30.0] + [0.0] * 8, [0.0, -30.0] + [0.0] * 7, [0.0] * 8 + [30.0], [-20.0] * 9])
    X = np.concatenate([blobs, far]).astype(np.float32)
    truth = np.repeat([0, 1, 2, -1], [150, 150, 150, 4])
    return X, truth


def test_far_points_are_the_outliers_and_blobs_are_the_clusters() -> None:
    X, truth = blobs_with_far_points()
    report = find_outliers(X)
    far = np.flatnonzero(truth < 0)
    assert report.min_samples == 18
    assert report.is_outlier[far].all()
    assert report.n_clusters == 3
    assert report.outlier_share <= 0.05
    assert set(report.atypical_rows[:4]) == set(far.tolist())
    clustered = report.labels >= 0
    assert adjusted_rand_score(truth[clustered], report.labels[clustered]) == pytest.approx(1.0)
    assert report.labels.dtype == np.int64 and report.is_outlier.dtype == bool
    assert report.cluster_sizes == tuple(sorted(report.cluster_sizes, reverse=True))


def test_k_distance_is_distance_to_the_min_samples_th_track_counting_itself() -> None:
    X, _ = blobs_with_far_points()
    report = find_outliers(X, min_samples=5)
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    expected = np.sort(D, axis=1)[:, 4]
    np.testing.assert_allclose(report.k_distance, expected, rtol=1e-4, atol=1e-4)
    assert list(report.atypical_rows) == list(np.argsort(-expected, kind="stable")[:20])


@pytest.mark.parametrize("ivf_min_rows", [10**9, 1], ids=["flat", "ivf"])
def test_same_core_and_noise_points_as_sklearn(ivf_min_rows: int) -> None:
    rng = np.random.default_rng(3)
    X = np.concatenate(
        [
            rng.normal(0, 1, size=(1500, 4)),
            rng.normal(4, 0.6, size=(1200, 4)),
            rng.uniform(-8, 10, size=(300, 4)),
        ]
    ).astype(np.float32)
    eps, min_samples = 0.55, 8
    ours = find_outliers(X, eps=eps, min_samples=min_samples, ivf_min_rows=ivf_min_rows, nprobe=2)
    ref = DBSCAN(eps=eps, min_samples=min_samples).fit(X.astype(np.float64))
    ref_core = np.zeros(len(X), dtype=bool)
    ref_core[ref.core_sample_indices_] = True
    np.testing.assert_array_equal(ours.is_core, ref_core)
    np.testing.assert_array_equal(ours.is_outlier, ref.labels_ == -1)
    assert ours.n_clusters == len(set(ref.labels_) - {-1})
    assert adjusted_rand_score(ref.labels_[ref_core], ours.labels[ref_core]) == pytest.approx(1.0)
    if ivf_min_rows == 1:
        assert 0.0 < ours.exact_search_share < 1.0


def test_ivf_path_finds_the_same_eps_and_outliers_as_the_exact_path() -> None:
    X, _ = blobs_with_far_points(seed=1)
    exact = find_outliers(X)
    ivf = find_outliers(X, ivf_min_rows=1, nprobe=16)
    assert ivf.eps == pytest.approx(exact.eps, rel=0.05)
    np.testing.assert_array_equal(
        find_outliers(X, eps=exact.eps, ivf_min_rows=1).is_outlier, exact.is_outlier
    )


def test_quantile_rule_and_to_dict_is_plain_json() -> None:
    X, _ = blobs_with_far_points()
    report = find_outliers(X, eps_quantile=0.9, limit=5)
    assert report.eps == pytest.approx(
        float(np.quantile(np.sort(report.k_distance), 0.9)), rel=1e-5
    )
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert "0.9 quantile" in data["rule"]
    assert len(data["most_atypical"]) == 5
    assert "is_outlier" not in data and "labels" not in data
    assert data["n_core"] + data["n_border"] + data["n_outliers"] == len(X)
    assert "knee" in find_outliers(X).rule


def test_knee_of_curve() -> None:
    curve = np.concatenate([np.linspace(0, 1, 90), np.linspace(2, 20, 10)])
    assert knee_of_curve(curve) == 89
    assert knee_of_curve(np.ones(10)) == 9
    with pytest.raises(ValueError, match="sorted"):
        knee_of_curve(np.array([3.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="non-empty"):
        knee_of_curve(np.array([]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": -1.0}, "eps must be"),
        ({"eps_quantile": 1.5}, "eps_quantile"),
        ({"min_samples": 1}, "min_samples"),
        ({"min_samples": 500}, "need more than"),
        ({"limit": -1}, "limit"),
        ({"nprobe": 0}, "nprobe"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, message: str) -> None:
    X, _ = blobs_with_far_points()
    with pytest.raises(ValueError, match=message):
        find_outliers(X, **kwargs)


def test_bad_matrices_raise_value_error() -> None:
    with pytest.raises(ValueError, match="2-D"):
        find_outliers(np.zeros(10))
    bad = np.zeros((50, 3))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        find_outliers(bad)

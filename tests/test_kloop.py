"""K-loop: known answers on clear blobs, sklearn as the oracle, elbow and choose_k wording."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from vibemap.indexer.validation.kloop import KLoopResult, choose_k, elbow_of_inertia, run_k_loop

K_VALUES = range(2, 7)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, truth = make_blobs(
        n_samples=600, n_features=9, centers=3, cluster_std=0.6, center_box=(-8, 8),
        random_state=0,
    )
    return X.astype(np.float32), truth


@pytest.fixture(scope="module")
def blob_result(blobs: tuple[np.ndarray, np.ndarray]) -> KLoopResult:
    X, _ = blobs
    return run_k_loop(X, k_values=K_VALUES, seed=0, n_init=3, keep_samples_for=3)


def test_three_blobs_are_found(blobs: tuple[np.ndarray, np.ndarray], blob_result: KLoopResult):
    _, truth = blobs
    assert blob_result.best_silhouette_k == 3
    assert blob_result.best_calinski_harabasz_k == 3
    assert blob_result.best_davies_bouldin_k == 3
    assert blob_result.elbow_k == 3
    assert blob_result.kept is not None and blob_result.kept.n_clusters == 3
    assert adjusted_rand_score(truth, blob_result.kept.labels) >= 0.95


def test_metrics_match_sklearn(blobs: tuple[np.ndarray, np.ndarray], blob_result: KLoopResult):
    X, _ = blobs
    assert blob_result.k_values == tuple(K_VALUES)
    kept = blob_result.kept
    assert kept is not None
    m = blob_result.for_k(3)
    assert m.silhouette == pytest.approx(silhouette_score(X, kept.labels), abs=1e-4)
    assert m.davies_bouldin == pytest.approx(davies_bouldin_score(X, kept.labels))
    assert m.calinski_harabasz == pytest.approx(calinski_harabasz_score(X, kept.labels))
    assert kept.silhouette_samples.mean() == pytest.approx(m.silhouette)
    inertia = [mm.inertia for mm in blob_result.metrics]
    assert all(a >= b for a, b in zip(inertia, inertia[1:], strict=False))


def test_same_seed_same_result(blobs: tuple[np.ndarray, np.ndarray], blob_result: KLoopResult):
    X, _ = blobs
    again = run_k_loop(X, k_values=K_VALUES, seed=0, n_init=3)
    for a, b in zip(blob_result.metrics, again.metrics, strict=True):
        assert (a.inertia, a.silhouette, a.davies_bouldin) == (b.inertia, b.silhouette,
                                                               b.davies_bouldin)


def test_to_dict_is_plain_json(blob_result: KLoopResult):
    data = blob_result.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert [m["n_clusters"] for m in data["metrics"]] == list(K_VALUES)
    assert data["kept"]["n_clusters"] == 3 and sum(data["kept"]["cluster_sizes"]) == 600
    assert set(data["timings_s"]) == {"kmeans", "silhouette", "davies_bouldin",
                                      "calinski_harabasz", "total"}
    assert all(v >= 0 for v in data["timings_s"].values())


def test_elbow_of_a_curve_with_a_known_knee():
    # Steep until K=4, then nearly flat: the knee is K=4.
    ks = np.arange(1, 11)
    inertia = np.array([1000, 700, 400, 100, 90, 80, 70, 60, 50, 40], dtype=float)
    assert elbow_of_inertia(ks, inertia) == 4
    # Scale and shift do not move it.
    assert elbow_of_inertia(ks, inertia * 1e6 + 5) == 4
    # Non-uniform K spacing uses the K values, not the positions.
    assert elbow_of_inertia([2, 3, 4, 8], [100.0, 40.0, 30.0, 26.0]) == 3


def test_elbow_of_a_smooth_convex_curve():
    # y = 1/K on K = 1..10: the point farthest below the chord maximises
    # (1 - x) - y in scaled units, which a direct search finds at K = 3.
    ks = np.arange(1, 11)
    inertia = 1.0 / ks
    x = (ks - 1) / 9
    y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
    assert elbow_of_inertia(ks, inertia) == ks[np.argmax(1 - x - y)] == 3


@pytest.mark.parametrize(
    "inertia",
    [[10.0, 8.0, 6.0, 4.0], [10.0, 9.5, 8.0, 4.0], [5.0, 5.0, 5.0, 5.0], [10.0, 5.0]],
    ids=["straight", "concave", "flat", "two-points"],
)
def test_no_elbow(inertia: list[float]):
    assert elbow_of_inertia(range(2, 2 + len(inertia)), inertia) is None


def test_elbow_rejects_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        elbow_of_inertia([3, 2, 4], [3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="equal length"):
        elbow_of_inertia([2, 3, 4], [3.0, 2.0])


def test_choose_k_keeps_requested_k_and_says_what_metrics_prefer(blob_result: KLoopResult):
    k, reason = choose_k(blob_result, requested_k=4)
    assert k == 4
    assert "K=3" in reason
    assert "None of the four criteria prefers K=4" in reason
    k, reason = choose_k(blob_result, requested_k=3)
    assert k == 3 and "All four criteria agree with K=3" in reason


def test_choose_k_partial_agreement_and_unevaluated_k(blob_result: KLoopResult):
    mixed = dataclasses.replace(blob_result, elbow_k=None, best_davies_bouldin_k=5)
    k, reason = choose_k(mixed, requested_k=3)
    assert k == 3
    assert "no clear elbow" in reason and "prefers K=5" in reason
    assert "Agreeing with K=3: the silhouette, Calinski-Harabasz" in reason
    assert "All four" not in reason
    k, reason = choose_k(blob_result, requested_k=12)
    assert k == 12 and "was not evaluated" in reason and "K=3" in reason
    with pytest.raises(ValueError, match="requested_k"):
        choose_k(blob_result, requested_k=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k_values": [1, 2]}, "2..n_samples"),
        ({"k_values": [3, 2]}, "strictly increasing"),
        ({"k_values": []}, "empty"),
        ({"keep_samples_for": 9}, "keep_samples_for"),
        ({"n_init": 0}, "n_init"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str):
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match=match):
        run_k_loop(X, **{"k_values": (2, 3), **kwargs})


def test_rejects_non_finite_input():
    X = np.ones((10, 2))
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        run_k_loop(X, k_values=(2, 3))


def test_extra_labelings_are_scored_in_the_same_pass() -> None:
    from sklearn.metrics import silhouette_samples

    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(c, 0.3, size=(40, 3)) for c in (0, 4, 8)])
    other = (np.arange(len(X)) % 2).astype(np.int32)
    result = run_k_loop(X, (2, 3), seed=0, n_init=2, extra_labelings=[other])
    assert len(result.extra_silhouettes) == 1
    np.testing.assert_allclose(result.extra_silhouettes[0], silhouette_samples(X, other), atol=1e-6)

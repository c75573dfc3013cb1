"""Scaling, K-Means++ personalities and their names."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from factories import make_tracks
from vibemap.indexer.features import FEATURES
from vibemap.indexer.personalities import ARCHETYPES, fit_personalities, fit_scaler, name_vibes


def test_scaler_equals_sklearn_and_round_trips() -> None:
    F = make_tracks(200)[list(FEATURES)].to_numpy()
    scaler = fit_scaler(F)
    np.testing.assert_allclose(scaler.transform(F), StandardScaler().fit_transform(F), atol=1e-5)
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(F)), F, rtol=1e-5, atol=1e-4
    )


def test_constant_column_gets_unit_scale() -> None:
    F = np.ones((10, 2))
    F[:, 1] = np.arange(10)
    assert fit_scaler(F).scale[0] == 1.0


def test_three_blobs_are_recovered() -> None:
    frame = make_tracks(600, seed=3, n_blobs=3)
    F = frame[list(FEATURES)].to_numpy()
    Z = fit_scaler(F).transform(F)
    p = fit_personalities(Z, 3, seed=0)
    assert adjusted_rand_score(frame.attrs["blob"], p.labels) >= 0.95
    assert p.labels.dtype == np.int32
    sizes = p.sizes()
    assert list(sizes) == sorted(sizes, reverse=True)  # vibe 0 is the largest


def test_fit_is_deterministic_for_a_seed() -> None:
    Z = np.random.default_rng(1).normal(size=(300, 9)).astype(np.float32)
    a, b = fit_personalities(Z, 4, seed=7), fit_personalities(Z, 4, seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.centroids, b.centroids)


def test_bad_cluster_counts() -> None:
    Z = np.zeros((3, 9), dtype=np.float32)
    with pytest.raises(ValueError, match="larger than"):
        fit_personalities(Z, 4)
    with pytest.raises(ValueError, match=">= 1"):
        fit_personalities(Z, 0)


def _signature(**z: float) -> np.ndarray:
    return np.array([z.get(f, 0.0) for f in FEATURES])


def test_archetype_names_follow_the_signature_not_the_cluster_number() -> None:
    centroids = np.array(
        [
            _signature(acousticness=1.5, energy=-1.4, loudness=-1.1),
            _signature(danceability=0.9, valence=0.8, energy=0.4),
            _signature(speechiness=2.0, liveness=1.5),
            _signature(instrumentalness=2.2),
        ]
    )
    names = name_vibes(centroids, FEATURES)
    assert names == ["Chill Acoustic", "Party", "Vocal / Live", "Instrumental"]
    perm = [2, 0, 3, 1]
    assert name_vibes(centroids[perm], FEATURES) == [names[i] for i in perm]


def test_weak_signatures_get_descriptive_names() -> None:
    centroids = np.array([_signature(tempo=0.2), _signature(tempo=-0.2), _signature()])
    names = name_vibes(centroids, FEATURES)
    assert len(set(names)) == 3
    assert all(n not in ARCHETYPES for n in names)


@pytest.mark.parametrize("k", range(2, 11))
def test_names_unique_and_nonempty_for_k_2_to_10(k: int) -> None:
    frame = make_tracks(800, seed=k, n_blobs=k)
    F = frame[list(FEATURES)].to_numpy()
    p = fit_personalities(fit_scaler(F).transform(F), k, seed=0, n_init=3)
    names = name_vibes(p.centroids, FEATURES)
    assert len(names) == k
    assert len(set(names)) == k
    assert all(n.strip() for n in names)


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 10), st.just(len(FEATURES))),
        elements=st.floats(-3, 3, allow_nan=False),
    )
)
def test_names_always_unique(centroids: np.ndarray) -> None:
    names = name_vibes(centroids, FEATURES)
    assert len(set(names)) == len(names) == len(centroids)

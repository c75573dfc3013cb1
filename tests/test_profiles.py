"""Vibe profiles agree with pandas group-bys and pick the tracks nearest the centroid."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vibemap.indexer.features import FEATURES
from vibemap.indexer.validation.profiles import profile_vibes


def catalogue(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = pd.DataFrame(rng.uniform(0, 1, size=(n, len(FEATURES))), columns=list(FEATURES))
    raw["loudness"] = -60 + 60 * raw["loudness"]
    raw["tempo"] = 60 + 140 * raw["tempo"]
    raw["name_song"] = [f"song {i}" for i in range(n)]  # extra column, ignored
    F = raw[list(FEATURES)].to_numpy()
    X = ((F - F.mean(axis=0)) / F.std(axis=0)).astype(np.float32)
    labels = rng.choice([2, 5, 7], size=n, p=[0.6, 0.3, 0.1])
    return raw, X, labels


def test_means_medians_and_signature_equal_pandas_groupby() -> None:
    raw, X, labels = catalogue()
    profiles = profile_vibes(X, raw, labels, FEATURES)
    by_vibe = raw[list(FEATURES)].groupby(labels)
    z_mean = pd.DataFrame(X.astype(np.float64), columns=list(FEATURES)).groupby(labels).mean()
    assert profiles.vibe_ids == (2, 5, 7)
    for p in profiles.profiles:
        for name in FEATURES:
            assert p.mean[name] == pytest.approx(by_vibe.mean().loc[p.vibe_id, name])
            assert p.median[name] == pytest.approx(by_vibe.median().loc[p.vibe_id, name])
            assert p.signature[name] == pytest.approx(z_mean.loc[p.vibe_id, name], abs=1e-6)
        assert p.size == int((labels == p.vibe_id).sum())
        assert p.share == pytest.approx(p.size / len(labels))
    assert sum(p.size for p in profiles.profiles) == len(labels)
    np.testing.assert_allclose(profiles.signature_matrix(), z_mean.to_numpy(), atol=1e-6)


def test_typical_tracks_are_nearest_to_the_centroid() -> None:
    raw, X, labels = catalogue()
    profiles = profile_vibes(
        X, raw.to_numpy()[:, : len(FEATURES)].astype(float), labels, FEATURES, n_typical=5
    )
    for p in profiles.profiles:
        rows = np.flatnonzero(labels == p.vibe_id)
        centroid = X[rows].astype(np.float64).mean(axis=0)
        dist = np.linalg.norm(X[rows] - centroid, axis=1)
        assert list(p.typical_rows) == rows[np.argsort(dist, kind="stable")[:5]].tolist()
        assert list(p.typical_distances) == pytest.approx(np.sort(dist)[:5].tolist(), abs=1e-5)
        assert all(labels[r] == p.vibe_id for r in p.typical_rows)


def test_small_vibe_gives_fewer_typical_tracks_and_to_dict_is_plain_json() -> None:
    raw, X, labels = catalogue(n=30)
    labels = np.array([0] * 28 + [1] * 2)
    profiles = profile_vibes(X, raw, labels, FEATURES, n_typical=5)
    assert len(profiles.profiles[1].typical_rows) == 2
    data = profiles.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["heatmap"]["features"] == list(FEATURES)
    assert np.array(data["heatmap"]["z"]).shape == (2, len(FEATURES))
    assert data["vibes"][0]["typical"][0].keys() == {"row", "distance"}


def test_bad_arguments_raise_value_error() -> None:
    raw, X, labels = catalogue(n=50)
    with pytest.raises(ValueError, match="lacks feature columns"):
        profile_vibes(X, raw.drop(columns=["tempo"]), labels, FEATURES)
    with pytest.raises(ValueError, match="rows"):
        profile_vibes(X, raw.iloc[:10], labels, FEATURES)
    with pytest.raises(ValueError, match="columns"):
        profile_vibes(X[:, :3], raw, labels, FEATURES)
    with pytest.raises(ValueError, match="shape"):
        profile_vibes(X, raw, labels[:5], FEATURES)
    with pytest.raises(ValueError, match="integers"):
        profile_vibes(X, raw, labels.astype(float), FEATURES)
    with pytest.raises(ValueError, match="n_typical"):
        profile_vibes(X, raw, labels, FEATURES, n_typical=-1)
    bad = raw.copy()
    bad.loc[0, "energy"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        profile_vibes(X, bad, labels, FEATURES)

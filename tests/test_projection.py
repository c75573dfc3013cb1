"""PCA projection: loadings, readings and the stratified 2-D sample."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vibemap.indexer.features import FEATURES
from vibemap.indexer.validation.projection import pca_projection, read_component, stratified_sample


def stretched(n: int = 2_000, axis: int = 8, seed: int = 0) -> np.ndarray:
    """Independent features, one of them ten times wider than the rest."""
    X = np.random.default_rng(seed).normal(size=(n, len(FEATURES)))
    X[:, axis] *= 10.0
    return X


def test_pc1_is_the_stretched_feature_and_the_reading_names_it() -> None:
    X = stretched(axis=FEATURES.index("tempo"))
    labels = np.zeros(len(X), dtype=int)
    proj = pca_projection(X, labels, FEATURES)
    pc1 = proj.loadings[:, 0]
    assert pc1[FEATURES.index("tempo")] > 0.99  # sign fixed: strongest loading positive
    assert np.abs(np.delete(pc1, FEATURES.index("tempo"))).max() < 0.2
    assert proj.labels[0] == "tempo"
    assert proj.readings[0].startswith("PC1 (")
    assert "tempo" in proj.readings[0]
    assert proj.explained_variance_ratio[0] > 0.8
    assert proj.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert proj.loadings.shape == (len(FEATURES), len(FEATURES))


def test_loadings_are_feature_score_correlations() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1_000, 1))
    X = np.hstack([base + 0.3 * rng.normal(size=(1_000, 1)) for _ in range(3)])
    X = np.hstack([X, rng.normal(size=(1_000, 1))])
    names = ["a", "b", "c", "d"]
    proj = pca_projection(X, np.zeros(1_000, dtype=int), names, sample_size=1_000)
    scores = proj.coords[:, 0].astype(np.float64)  # all rows are in the sample
    for j in range(4):
        assert proj.loadings[j, 0] == pytest.approx(np.corrcoef(X[:, j], scores)[0, 1], abs=1e-4)
    assert set(proj.labels[0].split(", ")) == {"a", "b", "c"}


def test_read_component() -> None:
    names = ["energy", "loudness", "acousticness", "tempo"]
    assert read_component(np.array([0.8, 0.7, -0.9, 0.1]), names) == (
        "energy, loudness vs acousticness"
    )
    assert read_component(np.array([0.1, 0.2, -0.3, 0.05]), names) == "low acousticness (weak)"
    assert read_component(np.array([-0.6, -0.5, 0.1, 0.0]), names) == "low energy, loudness"
    assert read_component(np.array([0.9, 0.8, 0.7, 0.6]), names, max_terms=2) == (
        "energy, loudness"
    )
    with pytest.raises(ValueError, match="feature names"):
        read_component(np.array([0.1, 0.2]), names)


def test_stratified_sample_covers_every_vibe_and_respects_the_cap() -> None:
    labels = np.repeat([0, 1, 2, 3], [9_000, 900, 60, 40])
    rows = stratified_sample(labels, 1_000, min_per_group=50, seed=0)
    assert rows.size == 1_000
    assert np.all(np.diff(rows) > 0)
    counts = np.bincount(labels[rows], minlength=4)
    assert counts[2] == 50 and counts[3] == 40  # minimum, or the whole small vibe
    # proportional 900/90/6/4; the 80 tracks lifting the small vibes come from the largest
    assert counts.tolist() == [820, 90, 50, 40]
    np.testing.assert_array_equal(rows, stratified_sample(labels, 1_000, min_per_group=50))
    assert not np.array_equal(rows, stratified_sample(labels, 1_000, min_per_group=50, seed=1))
    np.testing.assert_array_equal(stratified_sample(labels, 20_000), np.arange(labels.size))
    with pytest.raises(ValueError, match="cannot hold"):
        stratified_sample(labels, 100, min_per_group=50)
    with pytest.raises(ValueError, match="size"):
        stratified_sample(labels, 0)


def test_projection_sample_and_to_dict() -> None:
    X = stretched(n=3_000)
    labels = np.repeat([0, 1, 2], [2_900, 80, 20])
    proj = pca_projection(X, labels, FEATURES, sample_size=500, min_per_vibe=30)
    assert proj.rows.size == 500
    assert set(proj.vibes.tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(proj.vibes, labels[proj.rows])
    assert proj.coords.shape == (500, 2)
    data = proj.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data["loadings"]["pc1"]) == set(FEATURES)
    assert len(data["sample"]["pc1"]) == 500 == len(data["sample"]["rows"])
    assert data["cumulative_variance_ratio"][-1] == pytest.approx(1.0, abs=1e-4)


def test_bad_arguments_raise_value_error() -> None:
    X = stretched(n=100)
    labels = np.zeros(100, dtype=int)
    with pytest.raises(ValueError, match="feature names"):
        pca_projection(X, labels, FEATURES[:3])
    with pytest.raises(ValueError, match="shape"):
        pca_projection(X, labels[:10], FEATURES)
    with pytest.raises(ValueError, match="threshold"):
        pca_projection(X, labels, FEATURES, threshold=1.5)
    with pytest.raises(ValueError, match="not one string"):
        pca_projection(X[:, :1], labels, "tempo")

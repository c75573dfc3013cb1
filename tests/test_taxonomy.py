"""Ward taxonomy: clear blobs are recovered and the truncated dendrogram covers every track."""

from __future__ import annotations

import json

import fastcluster
import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster
from sklearn.metrics import adjusted_rand_score

from vibemap.indexer.validation.taxonomy import truncated_dendrogram, ward_taxonomy


def three_blobs(n_per: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-6, 6, size=(3, 9))
    truth = np.repeat([0, 1, 2], n_per)
    X = (centres[truth] + rng.normal(0, 0.4, size=(truth.size, 9))).astype(np.float32)
    return X, truth


def test_ward_cut_recovers_three_blobs() -> None:
    X, truth = three_blobs()
    tax = ward_taxonomy(X, truth, truncate=10, cophenetic_sample_size=200)
    assert tax.n_clusters == 3
    assert adjusted_rand_score(truth, tax.labels) >= 0.95
    assert tax.ari_vs_kmeans >= 0.95
    assert tax.contingency.sum() == len(X)
    assert tax.contingency.shape == (3, 3)
    assert sorted(tax.contingency.max(axis=0).tolist()) == [120, 120, 120]
    assert tax.cophenetic_correlation > 0.9
    assert tax.cophenetic_sample_size == 200
    assert tax.linkage.shape == (len(X) - 1, 4)


def test_truncated_dendrogram_leaves_cover_all_tracks() -> None:
    X, truth = three_blobs()
    tax = ward_taxonomy(X, truth, truncate=12)
    tree = tax.dendrogram
    assert len(tree["leaves"]) == 12 == len(tree["ivl"]) == len(tree["leaf_sizes"])
    assert len(tree["icoord"]) == len(tree["dcoord"]) == 11
    assert all(len(link) == 4 for link in tree["icoord"])
    assert sum(tree["leaf_sizes"]) == len(X)
    # a merged leaf's label is its size in brackets, as scipy prints it
    for label, size, node in zip(tree["ivl"], tree["leaf_sizes"], tree["leaves"], strict=True):
        assert label == (f"({size})" if size > 1 else str(node))
    assert set(tree["leaf_vibe"]) <= {0, 1, 2}
    assert all(share == 1.0 for share in tree["leaf_vibe_share"])  # blobs never mix


def test_dendrogram_leaves_are_the_lastp_clusters() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    Z = fastcluster.linkage_vector(X, method="ward")
    tree = truncated_dendrogram(Z, 8)
    # Each track's truncated leaf is its cluster when the tree is cut into 8.
    leaf_sizes = sorted(tree["leaf_sizes"])
    cut = fcluster(Z, t=8, criterion="maxclust")
    assert leaf_sizes == sorted(np.bincount(cut)[1:].tolist())


def test_cut_defaults_to_number_of_vibes_and_to_dict_is_plain_json() -> None:
    X, truth = three_blobs(n_per=40)
    tax = ward_taxonomy(X, truth, n_clusters=2, truncate=5)
    assert tax.n_clusters == 2
    data = tax.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert "labels" not in data and "linkage" not in data
    assert data["vibe_ids"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (np.zeros(5, dtype=int), {}, "shape"),
        (np.zeros(120, dtype=float), {}, "integers"),
        (np.zeros(120, dtype=int), {"n_clusters": 0}, "n_clusters"),
        (np.zeros(120, dtype=int), {"truncate": 1}, "truncate"),
        (np.zeros(120, dtype=int), {"cophenetic_sample_size": 2}, "cophenetic"),
    ],
)
def test_bad_arguments_raise_value_error(labels: np.ndarray, kwargs: dict, message: str) -> None:
    X, _ = three_blobs(n_per=40)
    with pytest.raises(ValueError, match=message):
        ward_taxonomy(X, labels, **kwargs)

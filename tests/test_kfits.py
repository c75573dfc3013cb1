"""The K-loop's sampled fits (above the exact budget): fitted on a sample, every point
assigned, inertia and the indices computed on all points, and the labels say so."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from vibemap.indexer.features import FEATURES
from vibemap.indexer.validation import basis
from vibemap.indexer.validation.evaluation import evaluate_build
from vibemap.indexer.validation.kfits import assign_nearest, fit_all
from vibemap.indexer.validation.kloop import FIT_ON_SAMPLE, run_k_loop
from vibemap.reports import print_metrics
from vibemap.ui import validation as ui_validation


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    X, _ = make_blobs(n_samples=1500, n_features=9, centers=4, cluster_std=1.5,
                      center_box=(-6, 6), random_state=3)
    return X.astype(np.float32)


def _direct(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, float]:
    """Nearest centroid and inertia by brute force (all n x K distances at once)."""
    d = ((X.astype(np.float64)[:, None, :] - np.asarray(C, np.float64)[None]) ** 2).sum(axis=2)
    return d.argmin(axis=1), float(d.min(axis=1).sum())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 6), d=st.integers(1, 5),
       chunk=st.integers(1, 64), seed=st.integers(0, 1000))
def test_assign_nearest_is_the_direct_computation(n, k, d, chunk, seed) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    C = rng.normal(size=(k, d))
    labels, inertia = assign_nearest(X, C, chunk=chunk)
    want_labels, want_inertia = _direct(X, C)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, want_labels)
    assert inertia == pytest.approx(want_inertia, rel=1e-9, abs=1e-9)


def test_sampled_fits_score_every_point(blobs: np.ndarray) -> None:
    fits = fit_all(blobs, (2, 3, 4), seed=0, n_init=2, n_threads=2, fit_sample=300)
    full = fit_all(blobs, (2, 3, 4), seed=0, n_init=2, n_threads=2)
    for fit, whole in zip(fits, full, strict=True):
        assert fit.labels.shape == (len(blobs),)
        labels, inertia = _direct(blobs, fit.centroids)
        np.testing.assert_array_equal(fit.labels, labels)
        assert fit.inertia == pytest.approx(inertia, rel=1e-9)
        # centroids of 300 rows are not the optimum of all 1,500: no better than the full fit
        assert fit.inertia >= whole.inertia * (1 - 1e-6)
    # a sample as large as the data is the full fit itself
    same = fit_all(blobs, (3,), seed=0, n_init=2, n_threads=1, fit_sample=len(blobs))
    np.testing.assert_array_equal(same[0].labels, full[1].labels)
    assert same[0].inertia == full[1].inertia


def test_k_loop_with_a_fit_sample(blobs: np.ndarray) -> None:
    loop = run_k_loop(blobs, k_values=(2, 3, 4), seed=0, n_init=2, fit_sample=300,
                      keep_samples_for=4)
    kept = loop.kept
    assert kept is not None and kept.labels.shape == (len(blobs),)
    m = loop.for_k(4)
    assert m.inertia == pytest.approx(_direct(blobs, kept.centroids)[1], rel=1e-9)
    assert m.davies_bouldin == pytest.approx(davies_bouldin_score(blobs, kept.labels))
    assert m.calinski_harabasz == pytest.approx(calinski_harabasz_score(blobs, kept.labels))
    d = json.loads(json.dumps(loop.to_dict()))
    assert d["fit"] == {"method": FIT_ON_SAMPLE, "sample_rows": 300, "assigned_rows": 1500}
    assert d["n_samples"] == 1500
    # without a sample (or one no smaller than the data) the key is absent: metrics.json of
    # the exact path is as before
    assert "fit" not in run_k_loop(blobs, k_values=(2, 3), n_init=1).to_dict()
    assert "fit" not in run_k_loop(blobs, k_values=(2, 3), n_init=1, fit_sample=5000).to_dict()


def test_tiny_budget_labels_say_sampled_fit(blobs: np.ndarray) -> None:
    """evaluate_build above a (lowered) budget: the K-loop's figures say what was done, in
    metrics.json, the CLI summary and the UI."""
    labels = fit_all(blobs, (4,), seed=0, n_init=1, n_threads=1)[0].labels
    tracks = pd.DataFrame(blobs, columns=list(FEATURES)).assign(genres=None)
    ev = evaluate_build(blobs, labels, tracks, n_clusters=4, n_init=1, k_values=(2, 3, 4),
                        exact_max_tracks=500)
    figures = ev.metrics["basis"]["figures"]
    want = basis.sampled_fit(1000, 1500)
    assert want["label"] == "fitted on a sample of 1,000, all 1,500 tracks assigned"
    for key in ("k_loop.inertia", "k_loop.davies_bouldin", "k_loop.calinski_harabasz"):
        assert figures[key] == want
    assert ev.metrics["k_loop"]["fit"]["sample_rows"] == 1000
    console = Console(file=io.StringIO(), width=250)
    manifest = {"name": "t", "source": {"label": "blobs"}, "rows": {"kept": 1500},
                "n_clusters": 4, "features": [], "vibes": []}
    print_metrics(console, manifest, {k: v for k, v in ev.metrics.items() if k != "profiles"})
    printed = " ".join(console.file.getvalue().split())  # the table title wraps
    assert "K-Means and indices fitted on a sample of 1,000, all 1,500 tracks assigned" in printed
    assert want["label"] in "\n".join(ui_validation.basis_lines(ev.metrics))

"""Validation with a budget (issue 13): above ``exact_max_tracks`` the silhouette and Ward run
on samples with 95% intervals, and every figure says which it is; ``--exact`` forces the
exact path; progress bars stay off without a terminal or with ``--quiet``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sklearn.metrics import silhouette_samples

from factories import write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.validation import basis
from vibemap.indexer.validation.evaluation import evaluate_build
from vibemap.indexer.validation.sampled_silhouette import (
    estimate_silhouettes,
    silhouettes_of_rows,
    systematic_sample,
    weighted_mean_ci95,
)
from vibemap.progress import Bars, progress_bars
from vibemap.reports import print_metrics
from vibemap.ui import validation as ui_validation
from vibemap.ui import views


def blobs(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Three overlapping blobs in 9-D and the labelings of K = 2, 3, 4 (by coordinates)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.5, size=(3, 9))
    which = rng.integers(0, 3, n)
    X = centres[which] + rng.normal(size=(n, 9))
    two = (X[:, 0] > np.median(X[:, 0])).astype(int)
    four = which.copy()
    four[(which == 0) & (X[:, 1] > np.median(X[which == 0, 1]))] = 3  # one blob cut in two
    return X, [two, which, four]


# -- the estimator ----------------------------------------------------------------------------
def test_silhouettes_of_rows_are_the_exact_ones() -> None:
    X, labelings = blobs(600)
    rows = np.array([0, 7, 123, 599, 300])
    for got, labels in zip(silhouettes_of_rows(X, rows, labelings), labelings, strict=True):
        np.testing.assert_allclose(got, silhouette_samples(X, labels)[rows], atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 400), size=st.integers(1, 450), n_cells=st.integers(1, 9),
       seed=st.integers(0, 10))
def test_systematic_sample_is_proportional_and_weights_sum_to_n(n, size, n_cells, seed) -> None:
    cells = np.random.default_rng(seed).integers(0, n_cells, n)
    rows, weights = systematic_sample(cells, size, seed=seed)
    assert rows.size == min(size, n) == np.unique(rows).size
    assert weights.sum() == pytest.approx(n)
    expected = np.bincount(cells, minlength=n_cells) * min(size, n) / n
    got = np.bincount(cells[rows], minlength=n_cells)
    assert np.all(np.abs(got - expected) < 2)  # every stratum gets its share (a slice at
    # each end of its run of rows may or may not pick from it)


def test_weighted_mean_ci95_of_a_census_is_exact() -> None:
    values = np.arange(10.0)
    census = weighted_mean_ci95(values, np.ones(10), 10)
    assert (census.mean, census.ci95) == (4.5, 0.0)
    half = weighted_mean_ci95(values[:5], np.full(5, 2.0), 10)
    assert half.mean == 2.0 and 0 < half.ci95 < np.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_k_exact_value_lies_in_its_interval(seed: int) -> None:
    X, labelings = blobs(1500, seed)
    est = estimate_silhouettes(X, labelings, [2, 3, 4], start=300, cap=600, seed=seed)
    assert est.n_sample in (300, 600) and est.rows.size == est.n_sample
    for e, labels in zip(est.estimates, labelings, strict=True):
        exact = silhouette_samples(X, labels).mean()
        assert abs(e.mean - exact) <= e.ci95, (e, exact)
    # the blobs' own K is clearly best, and the sample says it can tell
    assert [c.best_k for c in est.comparisons] == [3, 3] and not est.unresolved


def test_indistinguishable_labelings_are_reported_as_such() -> None:
    X, labelings = blobs(800)
    same = [labelings[1], labelings[1].copy()]  # two K with identical silhouettes
    est = estimate_silhouettes(X, same, [3, 4], start=100, cap=200)
    assert est.rounds == (100, 200)  # grew to the cap, then gave up
    assert est.unresolved == (4,)


def test_basis_labels() -> None:
    assert basis.exact(94_207)["label"] == "exact on 94,207 tracks"
    entry = basis.sampled(10_000, 1_000_000, 0.00213)
    assert entry["label"] == "sampled 10,000 of 1,000,000 tracks, 95% CI ±0.0021"
    assert entry["ci95"] == pytest.approx(0.00213)


# -- evaluate_build -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def blob_frame():
    import pandas as pd

    from vibemap.indexer.features import FEATURES

    X, labelings = blobs(900)
    tracks = pd.DataFrame(X, columns=list(FEATURES)).assign(genres=None)
    return X, labelings[1], tracks


def test_below_the_budget_every_figure_is_exact_and_unchanged(blob_frame) -> None:
    X, labels, tracks = blob_frame
    forced = evaluate_build(X, labels, tracks, n_clusters=3, n_init=1, k_values=(2, 3, 4))
    budget = evaluate_build(X, labels, tracks, n_clusters=3, n_init=1, k_values=(2, 3, 4),
                            exact_max_tracks=len(X))
    for m in (forced.metrics, budget.metrics):
        assert all(f["method"] == "exact" for f in m["basis"]["figures"].values())
    def figures(m: dict) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "fit_seconds"}
                for row in m["k_loop"]["metrics"]]

    assert figures(forced.metrics) == figures(budget.metrics)
    assert forced.metrics["silhouette"] == budget.metrics["silhouette"]
    assert budget.metrics["basis"]["figures"]["k_loop.silhouette"]["label"] == (
        "exact on 900 tracks")


def test_above_the_budget_silhouette_and_ward_are_sampled(blob_frame) -> None:
    X, labels, tracks = blob_frame
    ev = evaluate_build(X, labels, tracks, n_clusters=3, n_init=1, k_values=(2, 3, 4),
                        exact_max_tracks=400)
    figures = ev.metrics["basis"]["figures"]
    sil = figures["k_loop.silhouette"]
    assert sil["method"] == "sampled" and sil["of"] == 900 and sil["n"] <= 400
    assert sil["label"].startswith(f"sampled {sil['n']:,} of 900 tracks, 95% CI ±")
    assert [r["n_clusters"] for r in sil["per_k"]] == [2, 3, 4]
    assert figures["taxonomy"]["method"] == "sampled" and figures["taxonomy"]["n"] == 400
    assert ev.metrics["taxonomy"]["n_tracks"] == 400
    for exact in ("pca", "profiles"):
        assert figures[exact] == basis.exact(900), exact
    # K-Means fitted on 2 x 400 rows, every one of the 900 assigned (tests/test_kfits.py)
    for fitted in ("k_loop.inertia", "k_loop.davies_bouldin", "k_loop.calinski_harabasz"):
        assert figures[fitted] == basis.sampled_fit(800, 900), fitted
    # DBSCAN on a stratified sample: flags and k-distances only there, rows mapped back
    assert figures["outliers"]["method"] == "sampled" and figures["outliers"]["n"] == 400
    assert np.isfinite(ev.arrays["k_distance"]).sum() == 400
    for item in ev.metrics["outliers"]["most_atypical"]:
        assert ev.arrays["k_distance"][item["row"]] == pytest.approx(item["k_distance"], abs=1e-4)
    # the silhouette array is NaN off the sample, exact on it
    arr = ev.arrays["silhouette"]
    on = ~np.isnan(arr)
    assert on.sum() == sil["n"]
    np.testing.assert_allclose(arr[on], silhouette_samples(X, labels)[on], atol=1e-5)


# -- the CLI, --exact, --quiet, labels ----------------------------------------------------------
def _build(tmp_path: Path, *flags: str) -> tuple[dict, str, str]:
    csv = tmp_path / "t.csv"
    if not csv.exists():
        write_tracks_csv(csv, n=600, n_blobs=3)
    out = tmp_path / ("out" + "".join(f.strip("-") for f in flags))
    return_code = main(["index", str(csv), "--out", str(out), "--k", "3", "--n-init", "1",
                        *flags])
    assert return_code == 0
    return json.loads((out / "metrics.json").read_text()), str(out), ""


def test_cli_budget_exact_flag_and_labels(tmp_path: Path, capsys) -> None:
    sampled, _, _ = _build(tmp_path, "--exact-max-tracks", "300")
    text = capsys.readouterr()
    assert sampled["basis"]["sampled"] is True
    label = sampled["basis"]["figures"]["k_loop.silhouette"]["label"]
    assert label.startswith("sampled ") and "of 600 tracks, 95% CI ±" in label
    assert "sampled" in text.out and "95% CI" in text.out
    forced, _, _ = _build(tmp_path, "--exact-max-tracks", "300", "--exact", "--quiet")
    text = capsys.readouterr()
    assert forced["basis"]["sampled"] is False
    assert forced["basis"]["exact_max_tracks"] is None
    assert all(f["method"] == "exact" for f in forced["basis"]["figures"].values())
    assert "exact on 600 tracks" in text.out
    # no bars: output is not a terminal here (and nothing resembling one leaks out)
    for stream in (text.out, text.err):
        assert "elapsed" not in stream  # the bars' column


def test_settings_exact_forces_the_exact_budget() -> None:
    assert BuildSettings(exact=True, exact_max_tracks=10).exact_budget is None
    assert BuildSettings(exact_max_tracks=10).exact_budget == 10


def test_quiet_and_non_terminal_give_no_bars() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress_bars(quiet=True, console=tty, stdout=tty) as tick:
        assert tick is None
    pipe = Console(file=io.StringIO(), force_terminal=False)
    with progress_bars(console=pipe, stdout=tty) as tick:
        assert tick is None
    with progress_bars(console=tty, stdout=tty) as tick:
        assert isinstance(tick, Bars)
        tick("silhouette (sample)", 3, 10)
        tick("ward", 0, None)
        assert set(tick.tasks) == {"silhouette (sample)", "ward"}
        tick("silhouette (sample)", 10, 10)
        assert set(tick.tasks) == {"ward"}
    drawn = tty.file.getvalue()
    assert "silhouette (sample)" in drawn and "elapsed" in drawn and "ETA" in drawn


def test_cli_and_ui_show_sampled_labels(blob_frame) -> None:
    X, labels, tracks = blob_frame
    metrics = evaluate_build(X, labels, tracks, n_clusters=3, n_init=1, k_values=(2, 3, 4),
                             exact_max_tracks=400).metrics
    console = Console(file=io.StringIO(), width=200)
    manifest = {"name": "t", "source": {"label": "blobs"}, "rows": {"kept": 900},
                "n_clusters": 3, "features": [], "vibes": []}
    metrics.pop("profiles")
    print_metrics(console, manifest, metrics)
    out = console.file.getvalue()
    sil_label = metrics["basis"]["figures"]["k_loop.silhouette"]["label"]
    assert "sampled" in out and "95% CI" in out and "exact on 900 tracks" in out
    lines = "\n".join(ui_validation.basis_lines(metrics))
    assert sil_label in lines and "K=3" in lines
    assert metrics["basis"]["figures"]["taxonomy"]["label"] in views.dendrogram_html(
        metrics["taxonomy"], [{"vibe_id": v, "name": f"v{v}"} for v in range(3)],
        metrics["basis"]["figures"]["taxonomy"]["label"])

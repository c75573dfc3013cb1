"""The build's evaluation: metrics.json schema, analysis arrays, `vibemap evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from factories import build_tiny_artifact, write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.validation.evaluation import METRICS_SCHEMA_VERSION

TOP_LEVEL = {"evaluated", "schema_version", "n_tracks", "n_clusters", "features", "k_loop",
             "chosen_k", "silhouette", "outliers", "taxonomy", "pca", "profiles", "genres",
             "genre_agreement", "genre_agreement_served", "basis", "timings_s"}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("eval")
    csv = write_tracks_csv(tmp / "blobs.csv", n=450, seed=2, n_blobs=3)
    out = tmp / "indexes" / "blobs"
    assert main(["index", str(csv), "--out", str(out), "--k", "3", "--n-init", "3"]) == 0
    return out


def test_metrics_schema_and_known_answers(evaluated: Path) -> None:
    art = load_artifact(evaluated)
    m = art.metrics
    assert set(m) == TOP_LEVEL
    assert m["evaluated"] is True and m["schema_version"] == METRICS_SCHEMA_VERSION
    assert m["n_tracks"] == 450 and m["n_clusters"] == 3
    # the default build serves an era column: agreement is measured on those vectors too
    served = m["genre_agreement_served"]
    assert served["era_weight"] == art.era.weight == 1.0
    assert 0.0 <= served["cosine"]["agreement"] <= 1.0
    assert served["cosine"]["baseline"] == m["genre_agreement"]["cosine"]["baseline"]
    loop = m["k_loop"]
    assert loop["k_values"] == list(range(2, 11))
    assert loop["best_silhouette_k"] == 3  # three clear blobs
    assert m["chosen_k"]["k"] == 3 and "K=3" in m["chosen_k"]["reason"]
    k3 = next(row for row in loop["metrics"] if row["n_clusters"] == 3)
    assert k3["silhouette"] == pytest.approx(m["silhouette"]["mean"], abs=1e-3)
    assert [v["vibe_id"] for v in m["silhouette"]["per_vibe"]] == [0, 1, 2]
    assert sum(v["size"] for v in m["profiles"]["vibes"]) == 450
    assert m["taxonomy"]["ari_vs_kmeans"] >= 0.95
    assert m["genres"]["primary_genre_vs_vibe"]["n_primary_genres"] >= 1
    assert art.manifest["build"]["evaluated"] is True
    json.dumps(m, allow_nan=False)


def test_analysis_arrays_align_with_tracks(evaluated: Path) -> None:
    art = load_artifact(evaluated)
    a = art.analysis
    assert a["silhouette"].shape == (450,)
    assert a["outlier"].dtype == bool and a["outlier"].shape == (450,)
    assert a["pca_rows"].shape[0] == a["pca_coords"].shape[0] <= 450
    # per-vibe means of the stored per-track silhouettes are the reported ones
    for v in art.metrics["silhouette"]["per_vibe"]:
        rows = art.tracks["vibe_id"].to_numpy() == v["vibe_id"]
        assert a["silhouette"][rows].mean() == pytest.approx(v["mean"], abs=1e-4)


def test_evaluate_command_fills_a_no_eval_artifact(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    path = build_tiny_artifact(tmp_path, n=200, n_clusters=2)
    assert load_artifact(path).metrics == {"evaluated": False}
    assert main(["evaluate", "--index", str(path)]) == 0
    out = capsys.readouterr().out
    assert "K-loop on 200 tracks" in out and "chosen" in out
    art = load_artifact(path)  # rewritten atomically, checksums valid
    assert art.metrics["evaluated"] is True
    assert np.isfinite(art.analysis["silhouette"]).all()
    # showing again does not recompute
    mtime = (path / "metrics.json").stat().st_mtime_ns
    assert main(["evaluate", "--index", str(path)]) == 0
    assert (path / "metrics.json").stat().st_mtime_ns == mtime


def test_evaluate_missing_artifact_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--index", str(tmp_path / "none")]) == 2
    assert "no artifact" in capsys.readouterr().err

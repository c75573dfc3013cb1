"""`vibemap index --engine spark`: the same cleaning report, clustering and artifact as
the local build on a small dirty catalogue, the validation that scales, bad input and the
messages when the engine is missing. One local[2] session for the whole module."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from factories import make_tracks
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import BuildSettings
from vibemap.recommender.engine import Engine

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="no `java` on PATH: the Spark tests need Java 17+"),
]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.pyspark.python", sys.executable)
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def dirty_catalogue(path: Path) -> Path:
    """80 clean tracks in 3 blobs plus one row per drop reason (and a derived id)."""
    frame = make_tracks(80, seed=3).astype({"energy": str, "tempo": str})
    first = frame.iloc[0].copy()
    bad = []
    for change in (
        {"id_songs": "", "name_song": ""},  # missing_id
        {"energy": "loud"},  # unparseable_number
        {"tempo": ""},  # missing_feature
        {"tempo": "300"},  # out_of_range
        {"name_song": "Other"},  # duplicate_id (same id as row 0)
        {"id_songs": "copy-of-0"},  # duplicate_track (same name, artist, features)
        {"id_songs": "", "name_song": "No Id Song"},  # kept, with a derived id
    ):
        row = first.copy()
        for key, value in change.items():
            row[key] = value
        bad.append(row)
    frame = pd.concat([frame, pd.DataFrame(bad)], ignore_index=True)
    frame.to_csv(path, index=False)
    return path


def spark_build(csv: Path, out: Path, scratch: Path | None = None, **kw):
    from vibemap.indexer.spark.build import build_index_spark
    from vibemap.indexer.spark.session import SparkSettings

    settings = BuildSettings(csv=csv, out=out, n_clusters=3, n_init=2, **kw)
    return build_index_spark(settings, SparkSettings(
        master="local[2]", scratch=None if scratch is None else str(scratch)))


@pytest.fixture(scope="module")
def builds(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    csv = dirty_catalogue(root / "dirty.csv")
    local = build_index(BuildSettings(csv=csv, out=root / "local", n_clusters=3, n_init=2,
                                      evaluate=False))
    scratch = root / "scratch"
    scratch.mkdir()
    built = spark_build(csv, root / "spark", scratch=scratch)
    assert list(scratch.iterdir()) == []  # the rows the executors wrote, removed
    return csv, local, built


def test_cleaning_report_equals_the_local_builds(builds) -> None:
    _, local, spark_result = builds
    for key in ("rows", "cleaning", "source"):
        assert spark_result.manifest[key] == local.manifest[key], key
    assert set(spark_result.manifest["rows"]["dropped_by_reason"].values()) == {1}
    assert spark_result.manifest["cleaning"]["derived_ids"] == 1


def test_artifact_matches_the_local_build_and_records_the_engine(builds) -> None:
    _, local, spark_result = builds
    a, b = load_artifact(local.path), load_artifact(spark_result.path)
    pd.testing.assert_frame_equal(a.tracks, b.tracks)
    np.testing.assert_allclose(np.asarray(a.vectors), np.asarray(b.vectors), atol=1e-6)
    assert [v["name"] for v in local.vibes] == [v["name"] for v in spark_result.vibes]
    assert b.manifest["engine"]["name"] == "spark"
    assert b.manifest["engine"]["kmeans"] == "sample" and b.manifest["engine"]["exact"]
    assert "engine" not in a.manifest
    csv_a = (local.path / "tracks_labelled.csv").read_text(encoding="utf-8")
    assert (spark_result.path / "tracks_labelled.csv").read_text(encoding="utf-8") == csv_a


def test_spark_artifact_serves_similar(builds) -> None:
    _, local, spark_result = builds
    engine, reference = Engine.load(spark_result.path), Engine.load(local.path)
    track = str(load_artifact(spark_result.path).tracks["track_id"].iloc[5])
    got = engine.similar(track, limit=5)
    assert len(got["results"]) == 5
    assert got == reference.similar(track, limit=5)


def test_validation_at_scale_equals_sklearn(builds) -> None:
    _, _, spark_result = builds
    art = load_artifact(spark_result.path)
    at_scale = json.loads((art.path / "metrics.json").read_text())["at_scale"]
    Z = art.scaler.transform(art.tracks[list(art.features)].to_numpy())
    labels = art.tracks["vibe_id"].to_numpy()
    assert at_scale["davies_bouldin"] == pytest.approx(davies_bouldin_score(Z, labels), 1e-5)
    assert at_scale["calinski_harabasz"] == pytest.approx(
        calinski_harabasz_score(Z, labels), 1e-5)
    assert at_scale["silhouette"]["method"] == "exact"
    assert at_scale["silhouette"]["mean"] == pytest.approx(silhouette_score(Z, labels), abs=1e-5)
    assert at_scale["inertia"] == pytest.approx(art.manifest["build"]["kmeans_inertia"])


def test_sampled_silhouette_gives_an_interval(spark, builds) -> None:
    from vibemap.indexer.spark.clustering import Z_COLUMNS
    from vibemap.indexer.spark.validation import sampled_silhouette

    art = load_artifact(builds[2].path)
    Z = art.scaler.transform(art.tracks[list(art.features)].to_numpy())
    frame = pd.DataFrame(Z, columns=list(Z_COLUMNS)).assign(
        vibe_id=art.tracks["vibe_id"].to_numpy(), source_row=np.arange(len(Z)))
    result = sampled_silhouette(spark.createDataFrame(frame), len(Z), seed=0, sample_rows=40,
                                repeats=3)
    exact = silhouette_score(Z, art.tracks["vibe_id"].to_numpy())
    assert result["method"] == "sampled" and result["samples"] == 3
    low, high = result["ci95"]
    assert low <= result["mean"] <= high
    assert abs(result["mean"] - exact) < 0.1


def test_bad_input_exits_2_with_one_line_and_no_artifact(spark, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "noenergy.csv"
    make_tracks(30).drop(columns=["energy"]).to_csv(csv, index=False)
    out = tmp_path / "o"
    assert main(["index", "--engine", "spark", str(csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "energy" in err and "Traceback" not in err
    assert not out.exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["index", "--engine", "spark", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "empty.csv" in err
    assert not out.exists()


def test_missing_java_or_pyspark_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "t.csv"
    make_tracks(30).to_csv(csv, index=False)
    argv = ["index", "--engine", "spark", str(csv), "--out", str(tmp_path / "o")]
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Java" in err and "vibemap[spark]" in err
    monkeypatch.setitem(sys.modules, "pyspark", None)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "pyspark" in err and "vibemap[spark]" in err
    assert not (tmp_path / "o").exists()


def test_a_build_failing_after_the_executors_wrote_the_rows_leaves_nothing(
        spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """The scratch rows beside --out (the default place) go with the failed build."""
    from vibemap.indexer.errors import BuildError
    from vibemap.indexer.spark import build

    def out_of_order(*_args) -> None:
        raise BuildError("internal: the rows Spark wrote came back out of order")

    monkeypatch.setattr(build, "check_order", out_of_order)
    csv = tmp_path / "t.csv"
    make_tracks(60, seed=1).to_csv(csv, index=False)
    assert main(["index", "--engine", "spark", "--spark-master", "local[2]", "--no-eval",
                 "--quiet", str(csv), "--out", str(tmp_path / "o"), "--k", "3"]) == 2
    assert "out of order" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]

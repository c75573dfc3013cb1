"""The artifact: round trip, tamper detection, atomic writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from factories import build_tiny_artifact, write_tracks_csv
from vibemap.indexer.artifact import FORMAT_VERSION, load_artifact
from vibemap.indexer.errors import ArtifactError, BuildError, CatalogueError
from vibemap.indexer.export import safe_column
from vibemap.indexer.features import FEATURES
from vibemap.indexer.labelled_export import (
    RowSpill,
    spill_rows,
    write_labelled_csv,
    write_sorted_labelled_csv,
)
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import DEFAULT_ERA_WEIGHT, BuildSettings
from vibemap.indexer.staging import staged_artifact


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("art"), n=240, n_clusters=3)


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_round_trip(built: Path) -> None:
    art = load_artifact(built)
    m = art.manifest
    assert m["format_version"] == FORMAT_VERSION
    assert m["features"] == list(FEATURES)
    assert m["rows"]["kept"] == len(art.tracks) == art.vectors.shape[0] == art.index.ntotal == 240
    assert m["n_clusters"] == 3 and len(art.vibes) == 3
    assert len(m["source"]["sha256"]) == 64
    assert set(m["files"]) >= {"scaler.json", "vectors.npy", "tracks.arrow", "faiss/all.faiss"}
    # rows are sorted by vibe and each partition is exactly its vibe's rows
    vibe = art.tracks["vibe_id"].to_numpy()
    assert np.all(np.diff(vibe) >= 0)
    for p in m["partitions"]:
        assert set(vibe[p["start"] : p["stop"]]) == {p["vibe_id"]}
    # vectors are the scaled features plus the era column (default weight), unit length
    # for cosine; the manifest records the era scaler and the dimension
    assert m["era"]["weight"] == DEFAULT_ERA_WEIGHT and m["era"]["missing"] == "catalogue mean"
    assert m["build"]["dimension"] == len(FEATURES) + 1 == art.vectors.shape[1]
    assert art.era is not None and art.era.to_dict() == m["era"]
    Z = art.scaler.transform(art.tracks[list(FEATURES)].to_numpy())
    years = art.tracks["release_year"].to_numpy(dtype=np.float64, na_value=np.nan)
    Z = np.column_stack([Z, art.era.transform(years)])
    expected = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    np.testing.assert_allclose(art.vectors, expected, atol=1e-5)
    # every track's nearest neighbour is itself (row i = FAISS id i)
    _, rows = art.index.search(art.vectors, 1)
    assert (rows[:, 0] == np.arange(len(art.tracks))).mean() > 0.99


def test_labelled_export_keeps_every_input_column(built: Path) -> None:
    art = load_artifact(built)
    export = pd.read_csv(built / "tracks_labelled.csv")
    source = pd.read_csv(built.parent.parent / "tiny.csv")
    assert export.columns.tolist() == [*source.columns, "vibe_id", "vibe_name"]
    assert export["id_songs"].tolist() == art.tracks["track_id"].tolist()
    assert export["vibe_name"].tolist() == art.tracks["vibe_name"].tolist()



@pytest.mark.parametrize("chunk_rows", [1, 5, 11, 1000])
def test_labelled_export_in_batches_matches_one_pass(tmp_path: Path, chunk_rows: int) -> None:
    """The export is written in batches (memory at 10M rows); the bytes must not depend
    on the batch size, even when a text column is empty throughout the first batch."""
    raw = pd.DataFrame({
        "name": np.array([None] * 6 + ["Ünïcode", 'a "quoted", cell', "line\nbreak", "x",
                                       "", "z"], dtype=object),
        "n": np.arange(12) * 3,
        "f": np.linspace(-1, 1, 12),
    })
    labels = np.random.default_rng(chunk_rows).integers(0, 3, len(raw))  # input order
    names = ["Calm", "Loud, fast", "Mid"]
    for name, rows in (("batched.csv", chunk_rows), ("whole.csv", 10**6)):
        spilled = spill_rows(raw, tmp_path / "spill", chunk_rows=rows)
        write_labelled_csv(tmp_path / name, spilled, labels, names)
        spilled.close()
    assert list((tmp_path / "spill").iterdir()) == []  # the spill is an anonymous file
    assert (tmp_path / "batched.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    back = pd.read_csv(tmp_path / "batched.csv", keep_default_na=False)
    order = np.argsort(labels, kind="stable")  # sorted by vibe, input order within
    assert back["n"].tolist() == (order * 3).tolist()
    assert back["vibe_id"].tolist() == labels[order].tolist()
    assert back["vibe_name"].tolist() == [names[v] for v in labels[order]]
    assert (tmp_path / "batched.csv").read_bytes() == _one_pass_export(raw, labels, names)


def _one_pass_export(raw: pd.DataFrame, labels: np.ndarray, names: list[str]) -> bytes:
    """The oracle: the whole input reordered at once, as the export was first written."""
    order = np.argsort(labels, kind="stable")
    chunk = raw.iloc[order].reset_index(drop=True)
    for column in ("name",):
        chunk[column] = safe_column(chunk[column])
    chunk["vibe_id"] = labels[order].astype(np.int32)
    chunk["vibe_name"] = np.asarray(names, dtype=object)[labels[order]]
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.Table.from_pandas(chunk, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def test_tampered_file_is_refused_naming_it(built: Path, tmp_path: Path) -> None:
    art_dir = _copy(built, tmp_path)
    vec = np.load(art_dir / "vectors.npy", allow_pickle=False)
    vec[0, 0] += 1
    np.save(art_dir / "vectors.npy", vec)
    with pytest.raises(ArtifactError, match=r"vectors\.npy: checksum mismatch"):
        load_artifact(art_dir)


def test_wrong_version_names_both(built: Path, tmp_path: Path) -> None:
    art_dir = _copy(built, tmp_path)
    manifest = json.loads((art_dir / "manifest.json").read_text())
    manifest["format_version"] = 99
    (art_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=f"99.*{FORMAT_VERSION}"):
        load_artifact(art_dir)


def test_missing_file_and_missing_manifest(built: Path, tmp_path: Path) -> None:
    art_dir = _copy(built, tmp_path)
    (art_dir / "faiss" / "all.faiss").unlink()
    with pytest.raises(ArtifactError, match=r"all\.faiss: missing"):
        load_artifact(art_dir)
    (art_dir / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        load_artifact(art_dir)
    with pytest.raises(ArtifactError, match="no artifact"):
        load_artifact(tmp_path / "nothing")


def test_failed_build_leaves_previous_artifact_intact(built: Path, tmp_path: Path) -> None:
    art_dir = _copy(built, tmp_path)
    before = (art_dir / "manifest.json").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("id_songs,danceability\nx,0.5\n")
    with pytest.raises(CatalogueError, match="energy"):
        build_index(BuildSettings(csv=bad, out=art_dir, evaluate=False))
    assert (art_dir / "manifest.json").read_bytes() == before
    load_artifact(art_dir)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_too_many_clusters_writes_nothing(tmp_path: Path) -> None:
    csv = write_tracks_csv(tmp_path / "few.csv", n=5)
    out = tmp_path / "indexes" / "few"
    with pytest.raises(BuildError, match="larger than the 5"):
        build_index(BuildSettings(csv=csv, out=out, n_clusters=6, evaluate=False))
    assert not out.exists()


def test_rebuild_replaces_atomically(built: Path, tmp_path: Path) -> None:
    art_dir = _copy(built, tmp_path)
    csv = write_tracks_csv(tmp_path / "other.csv", n=120, seed=5)
    build_index(BuildSettings(csv=csv, out=art_dir, n_clusters=2, evaluate=False, n_init=2))
    art = load_artifact(art_dir)
    assert art.manifest["rows"]["kept"] == 120 and art.manifest["n_clusters"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "other.csv"]


def test_staging_error_removes_staging(tmp_path: Path) -> None:
    target = tmp_path / "x"
    with pytest.raises(RuntimeError), staged_artifact(target) as staging:
        (staging / "half.json").write_text("{}")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_euclidean_metric_recorded(tmp_path: Path) -> None:
    art = load_artifact(build_tiny_artifact(tmp_path, n=90, n_clusters=2, metric="euclidean"))
    assert art.metric == "euclidean"
    Z = art.scaler.transform(art.tracks[list(FEATURES)].to_numpy())
    np.testing.assert_allclose(art.vectors[:, :-1], Z, atol=1e-5)  # last column: the era
    years = art.tracks["release_year"].to_numpy(dtype=np.float64, na_value=np.nan)
    np.testing.assert_allclose(art.vectors[:, -1], art.era.transform(years), atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_era_weight_zero_keeps_the_nine_feature_vectors(tmp_path: Path, metric: str) -> None:
    """W = 0: the vectors, index and dimension of before the era dimension, bit for bit
    equal to the default build's first nine columns under euclidean (no renormalising)."""
    art = load_artifact(build_tiny_artifact(tmp_path, n=90, n_clusters=2, metric=metric,
                                            era_weight=0.0))
    assert art.vectors.shape[1] == len(FEATURES) == art.manifest["build"]["dimension"]
    assert art.era is None and art.manifest["era"]["weight"] == 0.0
    Z = art.scaler.transform(art.tracks[list(FEATURES)].to_numpy())
    if metric == "cosine":
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    np.testing.assert_allclose(art.vectors, Z, atol=1e-5)


def test_dimension_disagreeing_with_the_manifest_is_refused(tmp_path: Path) -> None:
    path = build_tiny_artifact(tmp_path, n=90, n_clusters=2)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["era"]["weight"] = 0.0  # promises 9 columns; vectors.npy holds 10
    manifest["build"].pop("dimension")
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="vectors.npy"):
        load_artifact(path)
    manifest["build"]["dimension"] = 12
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="dimension"):
        load_artifact(path)


def test_no_pickle_in_artifact(built: Path) -> None:
    for path in built.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


@pytest.mark.parametrize("chunk_rows", [1, 4, 1000])
def test_export_of_rows_spilled_as_read_matches_kept_rows(tmp_path: Path, chunk_rows: int
                                                          ) -> None:
    """Parquet rows are spilled file by file before cleaning (RowSpill) and the export
    picks the kept ones: the bytes equal those of the kept rows spilled after cleaning."""
    rng = np.random.default_rng(chunk_rows)
    parts = [pa.table({"name": pa.array([f"t{i}" if i % 3 else "=1+1" for i in range(a, b)]),
                       "f": pa.array(rng.normal(size=b - a))})
             for a, b in ((0, 5), (5, 6), (6, 13))]
    kept = np.array([0, 2, 3, 5, 7, 8, 12])  # input rows the cleaning kept
    labels = rng.integers(0, 3, len(kept))
    names = ["Calm", "Loud, fast", "Mid"]
    spill = RowSpill(tmp_path / "spill", chunk_rows=chunk_rows)
    for part in parts:
        spill.add(part)
    spilled = spill.finish(kept)
    write_labelled_csv(tmp_path / "as_read.csv", spilled, labels, names)
    spilled.close()
    frame = pa.concat_tables(parts).to_pandas().iloc[kept].reset_index(drop=True)
    old = spill_rows(frame, tmp_path / "spill")
    write_labelled_csv(tmp_path / "kept.csv", old, labels, names)
    old.close()
    assert (tmp_path / "as_read.csv").read_bytes() == (tmp_path / "kept.csv").read_bytes()
    assert b"'=1+1" in (tmp_path / "kept.csv").read_bytes()  # the text column is made safe


@pytest.mark.parametrize("batch_rows", [1, 4, 1000])
def test_rows_in_artifact_order_are_exported_as_they_come(tmp_path: Path, batch_rows: int
                                                          ) -> None:
    """The Spark build's rows arrive sorted by vibe already: written batch by batch
    (write_sorted_labelled_csv), the bytes equal the spilled export of the same rows."""
    rng = np.random.default_rng(batch_rows)
    labels = np.sort(rng.integers(0, 3, 13)).astype(np.int32)  # artifact order
    table = pa.table({"name": pa.array([None, None] + [f"t{i}" if i % 3 else "=1+1"
                                                       for i in range(2, 13)]),
                      "f": pa.array(rng.normal(size=13))})
    names = ["Calm", "Loud, fast", "Mid"]
    write_sorted_labelled_csv(tmp_path / "sorted.csv", table.to_batches(batch_rows), labels,
                              names)
    spilled = spill_rows(table.to_pandas(), tmp_path / "spill")
    write_labelled_csv(tmp_path / "spilled.csv", spilled, labels, names)
    spilled.close()
    assert (tmp_path / "sorted.csv").read_bytes() == (tmp_path / "spilled.csv").read_bytes()
    with pytest.raises(ValueError, match="internal"):
        write_sorted_labelled_csv(tmp_path / "short.csv", table.to_batches(batch_rows),
                                  labels[:-1], names)

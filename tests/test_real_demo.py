"""The real demo catalogue: the vendored file, its record and README, and the builds
`vibemap index` makes without an input (real by default, synthetic when asked)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, shared_data_dir

from factories import write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.errors import BuildError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.real_demo import CATALOGUE_PATH, META_PATH, read_meta, real_demo_catalogue
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.versions import version_keys

README = REPO_ROOT / "data" / "README.md"


def test_vendored_file_matches_its_record_and_readme() -> None:
    meta = read_meta()
    digest = hashlib.sha256(CATALOGUE_PATH.read_bytes()).hexdigest()
    assert digest == meta["sha256"]
    assert pq.read_metadata(CATALOGUE_PATH).num_rows == meta["rows"]
    assert CATALOGUE_PATH.stat().st_size == meta["bytes"] < 4_000_000  # a few MB at most
    readme = README.read_text(encoding="utf-8")
    assert meta["sha256"] in readme and f"{meta['rows']:,}" in readme
    for source in meta["sources"].values():  # the MIT notice of each source, as required
        assert source["licence"] == "MIT" and source["copyright"] in readme


def test_vendored_file_has_the_loader_columns_and_one_row_per_track() -> None:
    frame = pd.read_parquet(CATALOGUE_PATH)
    assert {"id_songs", "name_song", "name_artists", "genres", *FEATURES} <= set(frame.columns)
    assert frame["id_songs"].is_unique
    assert set(frame["dataset"]) == {"tidytuesday_2020", "billboard_rpkg"}
    tidy = frame[frame["dataset"] == "tidytuesday_2020"]
    assert tidy["genres"].notna().all()  # playlist (sub)genres on every TidyTuesday track


@pytest.mark.realdata
def test_the_script_remakes_the_same_rows_from_the_shared_data() -> None:
    data = shared_data_dir()
    if not (data / "tidytuesday_2020.csv").is_file():
        pytest.skip(f"real data not present at {data}")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_demo_catalogue", REPO_ROOT / "data" / "make_demo_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    remade, counts = module.build(data)
    pd.testing.assert_frame_equal(remade.reset_index(drop=True), pd.read_parquet(CATALOGUE_PATH),
                                  check_dtype=False)
    assert counts["billboard_rpkg"]["rows"] == read_meta()["sources"]["billboard_rpkg"]["rows"]


def test_index_without_input_builds_the_real_catalogue(tmp_path: Path, capsys) -> None:
    out = tmp_path / "indexes" / "demo"
    assert main(["index", "--demo-sample", "1500", "--out", str(out), "--k", "3",
                 "--n-init", "2", "--no-eval"]) == 0
    assert "real demo catalogue" in capsys.readouterr().out
    art = load_artifact(out)
    source = art.manifest["source"]
    assert source["kind"] == "demo" and source["catalogue"] == "real"
    assert source["synthetic"] is False and source["licence"] == "MIT"
    assert "TidyTuesday" in source["label"] and source["sample"] == 1500
    assert source["sha256"] == read_meta()["sha256"]
    assert art.manifest["rows"]["read"] == 1500
    # real ids, titles and artists, each with its version key
    real = pd.read_parquet(CATALOGUE_PATH, columns=["id_songs", "name_song"])
    assert set(art.tracks["track_id"]) <= set(real["id_songs"])
    assert list(art.tracks["version_key"]) == list(
        version_keys(art.tracks["name"], art.tracks["artist"]))


def test_the_same_seed_samples_the_same_tracks(tmp_path: Path) -> None:
    a, _ = real_demo_catalogue(sample=300, seed=4)
    b, _ = real_demo_catalogue(sample=300, seed=4)
    c, _ = real_demo_catalogue(sample=300, seed=5)
    assert list(a.tracks["track_id"]) == list(b.tracks["track_id"])
    assert list(a.tracks["track_id"]) != list(c.tracks["track_id"])


@pytest.mark.parametrize("flag", ["--synthetic", "--demo-tracks"])
def test_synthetic_catalogue_is_asked_for_explicitly(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "syn"
    assert main(["index", flag, "800", "--out", str(out), "--k", "3", "--n-init", "1",
                 "--no-eval"]) == 0
    source = load_artifact(out).manifest["source"]
    assert source["synthetic"] is True and source["catalogue"] == "synthetic"
    assert source["n_tracks"] == 800


def test_a_changed_catalogue_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "demo_catalogue.parquet"
    frame = pd.read_parquet(CATALOGUE_PATH)
    frame.loc[0, "energy"] = 0.5
    frame.to_parquet(copy)
    with pytest.raises(BuildError, match="does not match"):
        real_demo_catalogue(path=copy, meta_path=META_PATH)
    shutil.copy(META_PATH, tmp_path / "record.json")
    with pytest.raises(BuildError, match="missing"):
        real_demo_catalogue(path=tmp_path / "absent.parquet", meta_path=tmp_path / "record.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"demo_tracks": 100}, "demo_catalogue='synthetic'"),
        ({"demo_catalogue": "synthetic", "demo_tracks": 0}, "must be >= 1"),
        ({"demo_catalogue": "synthetic", "demo_sample": 10}, "not the synthetic"),
        ({"demo_sample": 0}, "--demo-sample must be >= 1"),
        ({"demo_catalogue": "fake"}, "must be one of real, synthetic"),
    ],
)
def test_settings_refuse_mixed_demo_options(kwargs: dict, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        BuildSettings(**kwargs)


def test_a_file_and_a_demo_option_exit_2(tmp_path: Path, capsys) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=30)
    for flag in ("--synthetic", "--demo-sample"):
        assert main(["index", str(csv), flag, "100", "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "not both" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_record_names_its_sources() -> None:
    meta = json.loads(META_PATH.read_text(encoding="utf-8"))
    assert set(meta["sources"]) == {"tidytuesday_2020", "billboard_rpkg"}
    assert sum(s["rows"] for s in meta["sources"].values()) == meta["rows"]

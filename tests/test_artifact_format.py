"""The artifact format: format 4 is read memory-mapped and stores everything the service
derives (parsed genres, per-vibe facts, per-row arrays, the search structure, the id hash
table, a cosine IVF index's cones), equal to
what the build's functions compute; older formats (committed format-1 fixtures) and
unreadable versions are refused with a "rebuild" message, by the CLI (exit 2) and by
/admin/reload (422)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from factories import build_tiny_artifact
from vibemap import cli
from vibemap.indexer.artifact import (
    FORMAT_VERSION,
    REQUIRED_FILES,
    load_artifact,
    read_genres,
    read_vibe_facts,
)
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.genre_labels import encode_genres, split_genres
from vibemap.indexer.id_table import IdTable
from vibemap.indexer.search_index import derive_search
from vibemap.indexer.search_runs import derive_runs
from vibemap.indexer.serving_arrays import derive_serving
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"
REBUILD = r"format version 1 is not one this vibemap reads.*rebuild it with `vibemap index`"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("format4"), n=240, n_clusters=3)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_format1_artifacts_are_refused_with_a_rebuild_message(kind: str) -> None:
    with pytest.raises(ArtifactError, match=REBUILD):
        load_artifact(FORMAT1 / kind)


def test_serve_refuses_a_format1_artifact_with_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    import uvicorn

    monkeypatch.delenv("VIBEMAP_INDEX", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    assert cli.main(["serve", "--index", str(FORMAT1 / "flat"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vibemap: error:") and "rebuild it with `vibemap index`" in err
    assert "Traceback" not in err


def test_reload_of_a_format1_artifact_is_a_422(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    shutil.copytree(built, root / "current")
    shutil.copytree(FORMAT1 / "flat", root / "old")
    token = "s3cret-admin-token"
    settings = ServiceSettings(index_dir=root / "current", admin_token=token)
    client = TestClient(create_app(settings, engine=Engine.load(root / "current")))
    r = client.post("/admin/reload", headers={"Authorization": f"Bearer {token}"},
                    json={"name": "old"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "artifact_error" and "rebuild" in r.json()["detail"]
    assert client.get("/v1/artifact").json()["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("version", [0, 1, 2, 3, 5, "4", True, None])
def test_unreadable_format_versions_say_rebuild(version: object, built: Path,
                                                tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(built, art)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["format_version"] = version
    (art / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"rebuild it with `vibemap index`"):
        load_artifact(art)


def test_format4_stores_what_the_build_derives(built: Path) -> None:
    art = load_artifact(built)
    manifest = art.manifest
    assert manifest["format_version"] == FORMAT_VERSION == 4
    assert set(REQUIRED_FILES) <= set(manifest["files"])
    assert "tracks.parquet" not in manifest["files"]
    assert "faiss/index.json" not in manifest["files"]
    tracks = art.tracks
    genres = read_genres(built, len(tracks))
    assert [genres.labels(i) for i in range(len(tracks))] == \
        [split_genres(cell) for cell in tracks["genres"]]
    assert manifest["genres"]["labels"] == len(genres.vocabulary)
    # the mapped arrays equal what the build's functions derive from the table
    mapped = art.serving
    derived = derive_serving(art.table, art.features, genres, art.vectors, art.metric)
    assert art.era is not None and mapped.audio is not None  # the default era weight
    for name in ("features", "version_of", "genre_offsets", "genre_rows", "audio"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(derived, name))
    assert mapped.genre_labels == derived.genre_labels
    for name, values in mapped.numbers.items():
        np.testing.assert_array_equal(values, derived.numbers[name])
    search = derive_search(art.table, derived.numbers["popularity"])
    np.testing.assert_array_equal(art.search.order, search.order)
    for field, tf in search.fields.items():
        assert art.search.fields[field].keys.equals(tf.keys)
        assert art.search.fields[field].words.equals(tf.words)
        np.testing.assert_array_equal(art.search.fields[field].code_of, tf.code_of)
        np.testing.assert_array_equal(art.search.fields[field].word_codes, tf.word_codes)
    ids = IdTable.derive(art.table.column("track_id"))
    for name in ("offsets", "rows", "crc"):
        np.testing.assert_array_equal(getattr(art.ids, name), getattr(ids, name))
    runs = derive_runs(art.search, mapped.version_of)
    for field, r in runs.items():
        for part in ("other", "rank", "version"):
            np.testing.assert_array_equal(getattr(art.search_runs[field], part),
                                          getattr(r, part))
        np.testing.assert_array_equal(art.search.fields[field].trigrams.positions,
                                      search.fields[field].trigrams.positions)
    # mapped, not copied
    assert not art.vectors.flags.owndata and not art.serving.features.flags.owndata
    engine = Engine(art)
    facts = read_vibe_facts(built)
    for shown, stored in zip(engine.vibes(), facts, strict=True):
        assert {k: v for k, v in shown.items() if k != "typical_tracks"} == \
            {k: v for k, v in stored.items() if k != "typical_rows"}
        assert [t["track_id"] for t in shown["typical_tracks"]] == \
            [engine.summary(r)["track_id"] for r in stored["typical_rows"]]


def test_every_track_id_finds_its_row(built: Path) -> None:
    engine = Engine.load(built)
    ids = engine.artifact.tracks["track_id"].tolist()
    assert [engine.row_of(t) for t in ids] == list(range(len(ids)))
    for missing in ("", "trk", ids[0] + "x", "\U0010ffff"):
        with pytest.raises(Exception, match="not found|unknown|no track"):
            engine.row_of(missing)


def test_encode_genres_matches_the_parser_cell_by_cell() -> None:
    cells = ["rock, pop; jazz", None, "['Dance Pop', 'pop']", "rock, pop; jazz", "", np.nan,
             "Hip Hop;hip hop", ["a", "B"]]
    genres = encode_genres(cells)
    genres.check(len(cells))
    assert [genres.labels(i) for i in range(len(cells))] == [split_genres(c) for c in cells]
    assert split_genres("rock, pop; jazz") == ["rock", "pop", "jazz"]
    assert genres.vocabulary[:3] == ("rock", "pop", "jazz")  # first appearance


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab ;,'[]C", max_size=12)), max_size=30))
def test_encode_genres_is_split_genres_of_every_cell(cells: list[str | None]) -> None:
    genres = encode_genres(cells)
    genres.check(len(cells))
    assert [genres.labels(i) for i in range(len(cells))] == [split_genres(c) for c in cells]
    seen = [label for cell in cells for label in split_genres(cell)]
    assert list(genres.vocabulary) == list(dict.fromkeys(seen))


def test_real_genre_cells_parse_into_their_semicolon_parts(real_tracks_csv: Path) -> None:
    cells = pd.read_csv(real_tracks_csv, usecols=["genres"], dtype=str)["genres"].dropna()
    sample = cells.drop_duplicates().head(3000)
    for cell in sample:
        parts = list(dict.fromkeys(" ".join(p.split()).lower() for p in cell.split(";")))
        assert split_genres(cell) == [p for p in parts if p], cell


def _restamp(art: Path, rel: str) -> None:
    manifest = json.loads((art / "manifest.json").read_text())
    path = art / rel
    manifest["files"][rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    (art / "manifest.json").write_text(json.dumps(manifest))


def test_truncated_ivf_index_is_an_artifact_error(tmp_path: Path) -> None:
    art = build_tiny_artifact(tmp_path, n=120, n_clusters=3, ann_threshold=0)
    path = art / "faiss/all.faiss"
    data = path.read_bytes()
    for cut in (len(data) - 100, 200):  # faiss's own read error; below the minimum size
        path.write_bytes(data[:cut])
        _restamp(art, "faiss/all.faiss")
        with pytest.raises(ArtifactError, match="faiss/all.faiss"):
            load_artifact(art)


def test_analysis_member_with_an_absurd_header_is_an_artifact_error(tmp_path: Path) -> None:
    from vibemap.indexer.pipeline import evaluate_artifact

    art = build_tiny_artifact(tmp_path, n=120, n_clusters=3)
    evaluate_artifact(art)
    with np.load(art / "analysis.npz", allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    key = next(k for k in arrays if not k.startswith("pca_"))
    with zipfile.ZipFile(art / "analysis.npz", "w") as zf:
        for name, values in arrays.items():
            buffer = io.BytesIO()
            shape = (10**9, *values.shape[1:]) if name == key else values.shape
            np.lib.format.write_array_header_1_0(
                buffer, {"descr": values.dtype.str, "fortran_order": False, "shape": shape})
            zf.writestr(f"{name}.npy", buffer.getvalue() + values.tobytes())
    _restamp(art, "analysis.npz")
    with pytest.raises(ArtifactError, match=r"analysis.npz:.*header promises shape \(1000000000"):
        load_artifact(art)

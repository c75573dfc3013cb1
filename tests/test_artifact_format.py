"""The artifact format: format-1 artifacts (committed, built by the old code) still load
and serve the same answers; format 2 stores parsed genres and per-vibe facts that equal
what the engine shows; unreadable versions are refused with a "rebuild" message."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import build_tiny_artifact
from vibemap.indexer.artifact import load_artifact, read_genres, read_vibe_facts
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.genre_labels import encode_genres, split_genres
from vibemap.recommender.engine import Engine

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"


def _json(value: object) -> object:
    return json.loads(json.dumps(value))


def _without_genres(value: object) -> object:
    """``value`` with every "genres" / "top_genres" entry dropped."""
    if isinstance(value, dict):
        return {k: _without_genres(v) for k, v in value.items()
                if k not in ("genres", "top_genres")}
    if isinstance(value, list):
        return [_without_genres(v) for v in value]
    return value


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_format1_artifacts_still_load_and_answer_as_before(kind: str) -> None:
    art = load_artifact(FORMAT1 / kind)
    assert art.format_version == 1 and art.index.index_type == ("flat" if kind == "flat"
                                                                  else "ivf_flat")
    before = json.loads((FORMAT1 / f"{kind}.answers.json").read_text())
    engine = Engine(art)
    # the engine shows what it did before but for genre labels, which the one parser now
    # lower-cases and splits on "," as well as ";" (checked against the stored genres)
    assert _without_genres(_json(engine.vibes())) == _without_genres(before["vibes"])
    similar = _json(engine.similar(engine.catalogue.ids[0], limit=5))
    assert _without_genres(similar) == _without_genres(before["similar"])
    for track in [similar["seed"], *similar["results"]]:
        assert track["genres"] == art.genres.labels(engine.row_of(track["track_id"]))
    # the facts derived on load equal what the old engine showed, but for genre labels,
    # which the one parser now lower-cases and splits on "," as well as ";"
    for shown, facts in zip(before["vibes"], art.vibe_facts, strict=True):
        assert {k: v for k, v in shown.items() if k not in ("top_genres", "typical_tracks")} \
            == {k: v for k, v in facts.items() if k not in ("top_genres", "typical_rows")}
        assert [t["track_id"] for t in shown["typical_tracks"]] == \
            [art.tracks["track_id"][r] for r in facts["typical_rows"]]


@pytest.mark.parametrize("version", [0, 3, "2", True, None])
def test_unreadable_format_versions_say_rebuild(version: object, tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(FORMAT1 / "flat", art)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["format_version"] = version
    (art / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"rebuild it with `vibemap index`"):
        load_artifact(art)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("format2"), n=240, n_clusters=3)


def test_format2_stores_parsed_genres_and_the_vibe_facts_the_engine_shows(built: Path) -> None:
    art = load_artifact(built)
    manifest = art.manifest
    assert manifest["format_version"] == 2
    assert {"vibes.json", "genres/vocabulary.json", "genres/offsets.npy",
            "genres/codes.npy"} <= set(manifest["files"])
    assert "faiss/index.json" not in manifest["files"]
    tracks = pd.read_parquet(built / "tracks.parquet")
    genres = read_genres(built, len(tracks))
    assert [genres.labels(i) for i in range(len(tracks))] == \
        [split_genres(cell) for cell in tracks["genres"]]
    assert manifest["genres"]["labels"] == len(genres.vocabulary)
    engine = Engine(art)
    facts = read_vibe_facts(built)
    for shown, stored in zip(engine.vibes(), facts, strict=True):
        assert {k: v for k, v in shown.items() if k != "typical_tracks"} == \
            {k: v for k, v in stored.items() if k != "typical_rows"}
        assert [t["track_id"] for t in shown["typical_tracks"]] == \
            [engine.summary(r)["track_id"] for r in stored["typical_rows"]]


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
    art = tmp_path / "ivf"
    shutil.copytree(FORMAT1 / "ivf", art)
    path = art / "faiss/all.faiss"
    data = path.read_bytes()
    for cut in (len(data) - 100, 200):  # faiss's own read error; below the minimum size
        path.write_bytes(data[:cut])
        _restamp(art, "faiss/all.faiss")
        with pytest.raises(ArtifactError, match="faiss/all.faiss"):
            load_artifact(art)


def test_analysis_member_with_an_absurd_header_is_an_artifact_error(tmp_path: Path) -> None:
    art = tmp_path / "flat"
    shutil.copytree(FORMAT1 / "flat", art)
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

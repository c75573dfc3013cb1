"""Loader: column aliases, every cleaning reason, every bad input."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import make_tracks
from vibemap.indexer.catalogue import DROP_REASONS, clean_catalogue, load_catalogue
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.readers import read_input


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str)


def test_public_schema_loads_every_row(tmp_path: Path) -> None:
    frame = make_tracks(50)
    frame.to_csv(tmp_path / "t.csv", index=False)
    cat = load_catalogue(tmp_path / "t.csv")
    assert cat.report.rows_read == cat.report.rows_kept == 50
    assert list(cat.tracks["track_id"]) == list(frame["id_songs"])
    np.testing.assert_allclose(cat.tracks["energy"], frame["energy"])
    assert len(cat.source["sha256"]) == 64
    assert cat.raw.columns.tolist() == frame.columns.tolist()


def test_kaggle_style_aliases(tmp_path: Path) -> None:
    frame = make_tracks(20).rename(
        columns={
            "id_songs": "track_id",
            "name_song": "track_name",
            "name_artists": "artists",
            "genres": "track_genre",
            "popularity_songs": "popularity",
        }
    )
    frame["track_genre"] = "acoustic"
    cat = clean_catalogue(_text(frame))
    assert cat.report.columns["track_id"] == "track_id"
    assert cat.report.columns["artist"] == "artists"
    assert set(cat.tracks["genres"]) == {"acoustic"}
    assert cat.tracks["popularity"].notna().all()


def test_ids_derived_from_name_and_artist_when_absent() -> None:
    frame = make_tracks(10).drop(columns=["id_songs"])
    frame.loc[3, "name_song"] = frame.loc[2, "name_song"]
    frame.loc[3, "name_artists"] = frame.loc[2, "name_artists"]
    cat = clean_catalogue(_text(frame))
    assert cat.report.derived_ids == 10
    assert cat.report.dropped["duplicate_id"] == 1  # same name + artist -> same derived id
    assert cat.tracks["track_id"].str.startswith("gen:").all()


def test_every_cleaning_reason_is_counted() -> None:
    frame = _text(make_tracks(12))
    frame.loc[0, "id_songs"] = ""
    frame.loc[0, "name_song"] = ""  # no id and nothing to derive one from
    frame.loc[1, "energy"] = "loud"  # unparseable
    frame.loc[2, "valence"] = ""  # missing feature
    frame.loc[3, "tempo"] = "0"  # out of range (tempo must be > 0)
    frame.loc[4, "loudness"] = "-61"  # out of range
    frame.loc[5, "danceability"] = "1.2"  # out of range
    frame.loc[6, "id_songs"] = frame.loc[7, "id_songs"]  # duplicate id (row 6 is first, 7 dropped)
    frame.loc[9] = frame.loc[8]
    frame.loc[9, "id_songs"] = "other-id"  # same name, artist, features: duplicate track
    cat = clean_catalogue(frame)
    assert cat.report.dropped == {
        "missing_id": 1,
        "unparseable_number": 1,
        "missing_feature": 1,
        "out_of_range": 3,
        "duplicate_id": 1,
        "duplicate_track": 1,
    }
    assert set(cat.report.dropped) == set(DROP_REASONS)
    assert cat.report.out_of_range_by_feature["tempo"] == 1
    assert cat.report.rows_kept == 12 - 8
    assert cat.report.rows_dropped == 8


def test_values_are_never_altered() -> None:
    frame = _text(make_tracks(5))
    frame.loc[0, "loudness"] = "4.9"  # inside [-60, 5]: kept exactly
    frame.loc[1, "tempo"] = "260"
    cat = clean_catalogue(frame)
    assert cat.tracks.loc[0, "loudness"] == 4.9
    assert cat.tracks.loc[1, "tempo"] == 260.0
    assert cat.report.rows_kept == 5


def test_unparseable_optional_value_is_kept_and_reported() -> None:
    frame = _text(make_tracks(5))
    frame.loc[2, "popularity_songs"] = "n/a"
    cat = clean_catalogue(frame)
    assert cat.report.rows_kept == 5
    assert np.isnan(cat.tracks.loc[2, "popularity"])
    assert any("popularity_songs" in note for note in cat.report.notes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"<!DOCTYPE html><html></html>", "HTML"),
        (b'{"tracks": []}', "JSON"),
        (b"id_songs,energy\n", "missing feature column"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "nope.csv")
    with pytest.raises(CatalogueError, match="directory"):
        load_catalogue(tmp_path)


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    frame = make_tracks(5)
    frame.loc[1, "name_song"] = "Café"
    path = tmp_path / "latin1.csv"
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(CatalogueError, match="UTF-8"):
        load_catalogue(path)


def test_missing_energy_names_it_and_the_aliases() -> None:
    frame = _text(make_tracks(5)).drop(columns=["energy"])
    with pytest.raises(CatalogueError, match="energy") as info:
        clean_catalogue(frame)
    assert "\n" not in str(info.value)


def test_missing_id_and_name_lists_accepted_aliases() -> None:
    frame = _text(make_tracks(5)).drop(columns=["id_songs", "name_song"])
    with pytest.raises(CatalogueError, match="track_id") as info:
        clean_catalogue(frame)
    assert "track_name" in str(info.value)


def test_header_only_and_no_valid_rows() -> None:
    frame = _text(make_tracks(3))
    with pytest.raises(CatalogueError, match="no rows"):
        clean_catalogue(frame.iloc[:0])
    frame["energy"] = "2.0"
    with pytest.raises(CatalogueError, match="no valid rows"):
        clean_catalogue(frame)


_cells = st.one_of(
    st.text(alphabet=string.printable, max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "nan", "-0", "1e309", "0.5", "-5", "300"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.lists(
        st.sampled_from([*FEATURES, "id_songs", "name_song", "name_artists", "x", ""]),
        min_size=0,
        max_size=12,
    ),
    rows=st.lists(st.lists(_cells, min_size=0, max_size=12), max_size=6),
    raw_bytes=st.binary(max_size=40),
)
def test_malformed_csvs_never_raise_anything_but_catalogue_error(
    tmp_path: Path, header: list[str], rows: list[list[str]], raw_bytes: bytes
) -> None:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path = tmp_path / "fuzz.csv"
    path.write_bytes("\n".join(lines).encode() + raw_bytes)
    try:
        cat = load_catalogue(path)
    except CatalogueError as exc:
        assert str(exc)
    else:
        assert cat.report.rows_kept >= 1
        assert np.isfinite(cat.tracks[list(FEATURES)].to_numpy()).all()


def test_read_input_keeps_csv_cells_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id_songs,energy\n007,0.50\n", encoding="utf-8")
    frame = read_input(path).frame
    assert frame.loc[0, "id_songs"] == "007"
    assert frame.loc[0, "energy"] == "0.50"


def test_pathological_headers_are_refused_fast(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["a"] * 5_000) + "\n1\n")
    with pytest.raises(CatalogueError, match="5000 columns"):
        load_catalogue(wide)
    long = tmp_path / "long.csv"
    long.write_text("x" * 70_000 + "\n1\n")
    with pytest.raises(CatalogueError, match="header line longer"):
        load_catalogue(long)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from([0.0, -0.0, 0.1234564, 0.1234566, 1.0, 0.5]),
                  st.sampled_from([0.25, 0.75]),
                  st.sampled_from(["a", "A", "b", "", "ΟΔΟΣ", None]),
                  st.sampled_from(["x", "X", "y", ""])),
        min_size=1, max_size=40,
    )
)
def test_duplicated_rows_matches_pandas_duplicated(rows: list[tuple]) -> None:
    """The column-at-a-time duplicate key gives exactly DataFrame.duplicated's answer
    (rounding, -0.0 == 0.0, case-folded text, missing text)."""
    from vibemap.indexer.catalogue import _duplicated_rows

    a, b, name, artist = (list(c) for c in zip(*rows, strict=True))
    names = pd.Series(name, dtype="str")
    artists = pd.Series(artist, dtype="str")
    values = np.array([a, b]).T
    key = pd.DataFrame(np.round(values, 6))
    key["name"], key["artist"] = names.str.lower(), artists.str.lower()
    columns = [lambda j=j: np.round(values[:, j], 6) for j in range(2)]
    columns += [names.str.lower, artists.str.lower]
    got = _duplicated_rows(columns, len(rows))
    np.testing.assert_array_equal(got, key.duplicated(keep="first").to_numpy())


@settings(max_examples=80, deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "A", "", "ΟΔΟΣ", "c"]), min_size=0, max_size=40),
       alive_bits=st.lists(st.booleans(), min_size=40, max_size=40),
       chunk=st.integers(1, 40))
def test_duplicated_among_matches_pandas(ids: list[str], alive_bits: list[bool],
                                         chunk: int) -> None:
    """Duplicate ids among the rows still alive, through integer codes, equal pandas'
    ``where(alive).duplicated() & alive``; also for text in several chunks (one per
    Parquet file, as the reader gives it)."""
    from vibemap.indexer.row_keys import duplicated_among

    values = pa.table({"id": pa.chunked_array(
        [pa.array(ids[i:i + chunk], pa.large_string()) for i in range(0, len(ids), chunk)],
        type=pa.large_string())}).to_pandas()["id"]
    alive = np.array(alive_bits[: len(ids)], dtype=bool)
    want = values.where(alive).duplicated(keep="first").to_numpy() & alive
    np.testing.assert_array_equal(duplicated_among(values, np.flatnonzero(alive)), want)

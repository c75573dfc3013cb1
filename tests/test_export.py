"""Exports are safe to open (issue 15 item 8): formula-starting text is neutralised as
OWASP recommends, numbers never change."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_tracks
from vibemap.indexer.export import FORMULA_STARTS, safe_cell, safe_column
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import BuildSettings

_text = st.text(alphabet=st.sampled_from(list("=+-@\t\r＝abc 1.5eE,|!()\"'")), max_size=12)


@given(st.one_of(_text, st.text(max_size=12)))
def test_no_cell_starts_a_formula_unless_it_is_a_plain_number(text: str) -> None:
    out = safe_cell(text)
    assert out in (text, "'" + text)  # only ever a prefix: the content is kept
    if out[:1] in FORMULA_STARTS:
        float(out)  # left alone only because it is a number


@given(st.one_of(st.integers(), st.floats(allow_nan=False)))
def test_numbers_are_unchanged_as_numbers_and_as_text(value: float) -> None:
    assert safe_cell(value) == str(value)
    assert safe_cell(str(value)) == str(value) or not math.isfinite(float(value))


@settings(max_examples=50)
@given(st.lists(st.one_of(_text, st.none()), max_size=20))
def test_safe_column_agrees_with_safe_cell(cells: list[str | None]) -> None:
    column = pd.Series(cells, dtype=object)
    assert safe_column(column).tolist() == [safe_cell(c) for c in cells]


def test_examples() -> None:
    assert safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("\tx") == "'\tx" and safe_cell("\rx") == "'\rx"
    assert safe_cell("-5") == "-5" and safe_cell("-14.405") == "-14.405"
    assert safe_cell("-5+cmd|' /C calc'!A0") == "'-5+cmd|' /C calc'!A0"
    assert safe_cell(None) == "" and safe_cell(float("nan")) == ""


def test_labelled_csv_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    frame = make_tracks(40)
    frame.loc[0, "name_song"] = "=cmd|' /C calc'!A0"
    frame.loc[1, "name_artists"] = "+1+1"
    frame.loc[2, "name_song"] = "-5"
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "art"
    build_index(BuildSettings(csv=csv, out=out, n_clusters=2, evaluate=False, n_init=1))
    export = pd.read_csv(out / "tracks_labelled.csv", dtype=str, keep_default_na=False)
    source = pd.read_csv(csv, dtype=str, keep_default_na=False)
    by_id = export.set_index("id_songs").loc[source["id_songs"]].reset_index()
    assert by_id.loc[0, "name_song"] == "'=cmd|' /C calc'!A0"
    assert by_id.loc[1, "name_artists"] == "'+1+1"
    assert by_id.loc[2, "name_song"] == "-5"
    for column in ("loudness", "energy", "tempo"):  # read as text, written back unchanged
        assert by_id[column].tolist() == source[column].tolist()


def test_an_earlier_export_indexed_again_gets_this_builds_labels(tmp_path: Path) -> None:
    """An export fed back as input (re-clustering with another K) has vibe_id / vibe_name
    columns already: the new export replaces them instead of failing on duplicates."""
    frame = make_tracks(60)
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    first = tmp_path / "first"
    build_index(BuildSettings(csv=csv, out=first, n_clusters=2, evaluate=False, n_init=1))
    again = tmp_path / "again"
    build_index(BuildSettings(csv=first / "tracks_labelled.csv", out=again, n_clusters=3,
                              evaluate=False, n_init=1))
    export = pd.read_csv(again / "tracks_labelled.csv", dtype=str, keep_default_na=False)
    assert list(export.columns) == [*frame.columns, "vibe_id", "vibe_name"]
    assert sorted(set(export["vibe_id"])) == ["0", "1", "2"]  # this build's three vibes
    assert sorted(export["id_songs"]) == sorted(frame["id_songs"])

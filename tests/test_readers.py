"""What the file is (issue 15 item 5, issue 13 item 1): every accepted input kind loads
to the same catalogue; every refused one gives one line naming the file."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from factories import make_tracks
from vibemap.indexer.catalogue import load_catalogue
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_tracks(60)


@pytest.fixture(scope="module")
def expected(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("plain") / "t.csv"
    frame.to_csv(path, index=False)
    return load_catalogue(path).tracks


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["track_id", "name", "artist", *FEATURES]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("semi.csv", lambda f, p: f.to_csv(p, index=False, sep=";")),
        ("tab.tsv", lambda f, p: f.to_csv(p, index=False, sep="\t")),
        ("u16.csv", lambda f, p: p.write_bytes(f.to_csv(index=False).encode("utf-16"))),
        ("bom8.csv", lambda f, p: p.write_bytes(f.to_csv(index=False).encode("utf-8-sig"))),
        ("z.csv.gz", lambda f, p: p.write_bytes(gzip.compress(f.to_csv(index=False).encode()))),
        ("gz_no_suffix.csv",
         lambda f, p: p.write_bytes(gzip.compress(f.to_csv(index=False).encode()))),
        ("t.parquet", lambda f, p: f.to_parquet(p, index=False)),
        ("parquet_named.csv", lambda f, p: f.to_parquet(p, index=False)),
    ],
)
def test_every_input_kind_gives_the_same_tracks(
    tmp_path: Path, frame: pd.DataFrame, expected: pd.DataFrame, name: str, write
) -> None:
    path = tmp_path / name
    write(frame, path)
    cat = load_catalogue(path)
    _same(cat.tracks, expected)
    assert cat.source["file"] == name and len(cat.source["sha256"]) == 64


def test_decimal_commas_with_semicolons_are_read_and_noted(
    tmp_path: Path, frame: pd.DataFrame, expected: pd.DataFrame
) -> None:
    path = tmp_path / "eu.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    cat = load_catalogue(path)
    _same(cat.tracks, expected)
    assert any("decimal commas" in n and "energy" in n for n in cat.report.notes)


def test_directory_and_glob_of_parquet_and_csv(
    tmp_path: Path, frame: pd.DataFrame, expected: pd.DataFrame
) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, chunk in enumerate((frame.iloc[:25], frame.iloc[25:])):
        chunk.to_parquet(parts / f"part-{i}.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    cat = load_catalogue(parts)
    _same(cat.tracks, expected)
    assert cat.source["kind"] == "parquet-files" and cat.source["n_files"] == 2
    assert cat.source["directory"] == "parts"
    # a glob reads the same files; the sha256 is over the files read, so it matches
    globbed = load_catalogue(str(parts / "part-*.parquet"))
    assert globbed.source["sha256"] == cat.source["sha256"]
    # only the known columns are read from Parquet
    assert "key" not in cat.raw.columns and "energy" in cat.raw.columns
    csvs = tmp_path / "csvs"
    csvs.mkdir()
    frame.iloc[:30].to_csv(csvs / "a.csv", index=False)
    frame.iloc[30:].to_csv(csvs / "b.csv", index=False, sep=";")
    _same(load_catalogue(csvs).tracks, expected)


def _refused(path: Path | str, *needles: str) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    text = str(info.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text
    return text


def test_bad_directories_name_the_file(tmp_path: Path, frame: pd.DataFrame) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(empty, "no CSV or Parquet files")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    frame.to_parquet(corrupt / "a.parquet", index=False)
    (corrupt / "b.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 20)
    _refused(corrupt, "b.parquet", "not a readable Parquet file")
    mismatched = tmp_path / "mismatched"
    mismatched.mkdir()
    frame.to_parquet(mismatched / "a.parquet", index=False)
    frame.drop(columns=["genres"]).to_parquet(mismatched / "b.parquet", index=False)
    _refused(mismatched, "b.parquet", "do not match a.parquet")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    frame.to_csv(mixed / "a.csv", index=False)
    frame.to_parquet(mixed / "b.parquet", index=False)
    _refused(mixed, "b.parquet", "csv and parquet")
    _refused(str(tmp_path / "none-*.parquet"), "no files match")


def test_truncated_gzip_and_bomless_utf16_are_named(tmp_path: Path, frame: pd.DataFrame) -> None:
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(gzip.compress(frame.to_csv(index=False).encode())[:300])
    _refused(gz, "cut.csv.gz")
    u16 = tmp_path / "u16le.csv"
    u16.write_bytes(frame.to_csv(index=False).encode("utf-16-le"))
    _refused(u16, "UTF-16", "without a byte-order mark")


@pytest.mark.parametrize(
    "header",
    ["energy,Energy", "energy, energy ", "ENERGY;energy", "id_songs,id_songs"],
)
def test_ambiguous_columns_are_refused_naming_them(
    tmp_path: Path, frame: pd.DataFrame, header: str
) -> None:
    sep = ";" if ";" in header else ","
    first, second = header.split(sep)
    extra = frame.copy()
    extra.insert(0, "dup", extra[first.strip().lower()])
    path = tmp_path / "dup.csv"
    text = extra.to_csv(index=False, sep=sep)
    cols = text.split("\n", 1)
    head = cols[0].split(sep)
    head[0] = second
    head[head.index(first.strip().lower())] = first
    path.write_text(sep.join(head) + "\n" + cols[1])
    message = _refused(path, "ambiguous column names", repr(second))
    assert repr(first) in message


def test_ambiguous_parquet_columns_are_refused(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "dup.parquet"
    frame.rename(columns={"tempo": "Tempo "}).assign(tempo=frame["tempo"]).to_parquet(path)
    _refused(path, "'Tempo '", "'tempo'")


def test_two_aliases_for_one_field_are_noted(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "t.csv"
    frame.assign(uri="spotify:track:x").to_csv(path, index=False)
    cat = load_catalogue(path)
    assert any("'id_songs'" in n and "'uri'" in n for n in cat.report.notes)


def test_cli_reads_a_parquet_directory_and_records_it(tmp_path: Path, frame: pd.DataFrame) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.to_parquet(parts / "p0.parquet", index=False)
    out = tmp_path / "art"
    proc = subprocess.run(
        [sys.executable, "-m", "vibemap.cli", "index", str(parts), "--out", str(out), "--k", "2",
         "--no-eval", "--n-init", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    import json

    source = json.loads((out / "manifest.json").read_text())["source"]
    assert source["directory"] == "parts" and source["files"][0]["name"] == "p0.parquet"


def _bad_directory(root: Path, frame: pd.DataFrame, case: str) -> tuple[Path, str]:
    """A directory the issue names as bad input, and the file its message must name."""
    folder = root / case
    folder.mkdir()
    if case == "empty":
        return folder, "empty"
    frame.to_parquet(folder / "a.parquet", index=False)
    if case == "corrupt":
        (folder / "b.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 20 + b"PAR1")
    else:  # mismatched schemas: a feature typed as text in the second file
        frame.astype({"energy": str}).to_parquet(folder / "b.parquet", index=False)
    return folder, "b.parquet"


@pytest.mark.parametrize("case", ["empty", "corrupt", "mismatched"])
def test_cli_refuses_bad_directories_in_one_line_and_writes_nothing(
    tmp_path: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture, case: str
) -> None:
    from vibemap.cli import main

    folder, named = _bad_directory(tmp_path, frame, case)
    out = tmp_path / "indexes" / "bad"
    assert main(["index", str(folder), "--out", str(out), "--no-eval", "--k", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.glob("indexes/.*")) == []  # no staging directory left behind


def test_parquet_files_in_another_column_order_still_join(
    tmp_path: Path, frame: pd.DataFrame, expected: pd.DataFrame
) -> None:
    """Files of one exact schema join in Arrow; the same columns in another order take the
    pandas path, which matches them by name: both give the same tracks and raw rows."""
    same, shuffled = tmp_path / "same", tmp_path / "shuffled"
    same.mkdir()
    shuffled.mkdir()
    for i, chunk in enumerate((frame.iloc[:25], frame.iloc[25:])):
        chunk.to_parquet(same / f"part-{i}.parquet", index=False)
        (chunk if i == 0 else chunk[chunk.columns[::-1]]).to_parquet(
            shuffled / f"part-{i}.parquet", index=False)
    a, b = load_catalogue(same), load_catalogue(shuffled)
    _same(a.tracks, expected)
    _same(b.tracks, expected)
    pd.testing.assert_frame_equal(a.raw, b.raw)

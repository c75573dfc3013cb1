"""A build never deletes what it did not write (issue 15 item 1): `--out` may name a
missing path, an empty directory or a vibemap artifact holding only its own files;
anything else is refused with exit 2 and left exactly as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from factories import build_tiny_artifact, write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.staging import check_replaceable, staged_artifact


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _index(csv: Path, out: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["index", str(csv), "--out", str(out), "--k", "2", "--no-eval", "--n-init", "1"])
    return code, capsys.readouterr().err


def test_out_is_the_folder_holding_the_input_csv(tmp_path: Path, capsys) -> None:
    (tmp_path / "data").mkdir()
    csv = write_tracks_csv(tmp_path / "data" / "tracks.csv", n=40)
    before = _snapshot(tmp_path / "data")
    code, err = _index(csv, tmp_path / "data", capsys)
    assert code == 2
    assert "not a vibemap artifact" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(tmp_path / "data") == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no staging left


def test_out_dir_with_a_user_file_is_refused(tmp_path: Path, capsys) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=40)
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "thesis.txt").write_text("years of work")
    code, err = _index(csv, home, capsys)
    assert code == 2 and "refusing to replace" in err
    assert (home / "docs" / "thesis.txt").read_text() == "years of work"


def test_symlink_to_a_user_dir_is_refused(tmp_path: Path, capsys) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=40)
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.md").write_text("keep me")
    link = tmp_path / "link"
    link.symlink_to(home, target_is_directory=True)
    code, err = _index(csv, link, capsys)
    assert code == 2 and "not a vibemap artifact" in err
    assert link.is_symlink() and (home / "notes.md").read_text() == "keep me"


def test_file_at_out_is_refused(tmp_path: Path, capsys) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=40)
    out = tmp_path / "out"
    out.write_text("a file")
    code, err = _index(csv, out, capsys)
    assert code == 2 and "not a directory" in err
    assert out.read_text() == "a file"


def test_artifact_with_a_stray_user_file_is_refused(tmp_path: Path, capsys) -> None:
    art = build_tiny_artifact(tmp_path, n=60, n_clusters=2)
    (art / "faiss" / "my_notes.txt").write_text("mine")
    code, err = _index(tmp_path / "tiny.csv", art, capsys)
    assert code == 2 and "faiss/my_notes.txt" in err
    assert (art / "faiss" / "my_notes.txt").read_text() == "mine"


def test_empty_dir_missing_dir_and_artifact_are_replaced(tmp_path: Path, capsys) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=40)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (empty, tmp_path / "new" / "deep", empty):  # the last: rebuild over an artifact
        code, err = _index(csv, out, capsys)
        assert code == 0, err
        assert load_artifact(out).manifest["rows"]["kept"] == 40


def test_symlink_to_an_artifact_replaces_the_artifact_and_keeps_the_link(
    tmp_path: Path, capsys
) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=40)
    real = tmp_path / "real"
    assert _index(csv, real, capsys)[0] == 0
    link = tmp_path / "current"
    link.symlink_to(real, target_is_directory=True)
    assert _index(csv, link, capsys)[0] == 0
    assert link.is_symlink() and load_artifact(link).manifest["rows"]["kept"] == 40


def test_manifest_that_is_not_vibemaps_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "someone else's"}))
    with pytest.raises(ArtifactError, match="not a vibemap artifact"):
        check_replaceable(out)


def test_swap_checks_again_after_the_build(tmp_path: Path) -> None:
    """A user file that appears while the build runs is still never deleted."""
    out = tmp_path / "out"
    with pytest.raises(ArtifactError), staged_artifact(out) as staging:
        (staging / "manifest.json").write_text("{}")
        out.mkdir()
        (out / "arrived.txt").write_text("during the build")
    assert (out / "arrived.txt").read_text() == "during the build"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_demo_index_into_a_user_dir_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "photo.jpg").write_bytes(b"\xff\xd8")
    proc = subprocess.run(
        [sys.executable, "-m", "vibemap.cli", "demo", "--index", str(home), "--no-eval",
         "--demo-tracks", "50"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert (home / "photo.jpg").read_bytes() == b"\xff\xd8"


def test_demo_and_index_build_the_same_settings(tmp_path: Path) -> None:
    """`vibemap demo` builds through the same flags -> BuildSettings path as `vibemap index`."""
    from vibemap.cli import build_parser, build_settings

    parser = build_parser()
    out = tmp_path / "demo"
    demo = build_settings(parser.parse_args(["demo", "--index", str(out)]), out=out)
    index = build_settings(parser.parse_args(["index", "--out", str(out)]))
    assert demo == index
    demo = build_settings(
        parser.parse_args(["demo", "--index", str(out), "--no-eval", "--demo-tracks", "500"]),
        out=out,
    )
    index = build_settings(
        parser.parse_args(["index", "--out", str(out), "--no-eval", "--demo-tracks", "500"])
    )
    assert demo == index and not demo.evaluate and demo.demo_tracks == 500

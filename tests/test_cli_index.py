"""`vibemap index`: exit codes, messages, progress and summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from factories import make_tracks, write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact


def test_index_prints_stages_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    csv = write_tracks_csv(tmp_path / "mini.csv", n=150)
    out = tmp_path / "indexes" / "mini"
    assert (
        main(["index", str(csv), "--out", str(out), "--k", "3", "--no-eval", "--n-init", "2"]) == 0
    )
    text = capsys.readouterr().out
    for stage in ("load", "scale", "cluster", "index", "write"):
        assert stage in text
    assert "150" in text and "Vibes (K=3" in text
    assert load_artifact(out).manifest["n_clusters"] == 3


def test_csv_without_energy_exits_2_naming_it_and_writes_nothing(tmp_path: Path) -> None:
    csv = tmp_path / "noenergy.csv"
    make_tracks(20).drop(columns=["energy"]).to_csv(csv, index=False)
    out = tmp_path / "indexes" / "noenergy"
    proc = subprocess.run(
        [sys.executable, "-m", "vibemap.cli", "index", str(csv), "--out", str(out), "--no-eval"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "energy" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.glob("indexes/.*")) == []  # no staging directory left behind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "not found"),
        (["{csv}", "--k", "500"], "--k must be between"),
        (["{csv}", "--k", "40"], "larger than the 30"),
        (["{csv}", "--n-init", "0"], "--n-init"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    csv = write_tracks_csv(tmp_path / "t.csv", n=30)
    argv = ["index", *[a.format(csv=csv) for a in args], "--out", str(tmp_path / "o"), "--no-eval"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_bug_during_a_build_is_one_line_exit_1_and_no_artifact(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception (a bug, not the input) ends the command with one line that
    says so, exit 1 and nothing written; ``-v`` adds the traceback."""
    import vibemap.indexer.pipeline as pipeline

    def broken(*args, **kwargs):
        raise KeyError("Column vibe_id does not exist in schema")

    monkeypatch.setattr(pipeline, "write_labelled_csv", broken)
    csv = write_tracks_csv(tmp_path / "mini.csv", n=80)
    out = tmp_path / "art"
    argv = ["index", str(csv), "--out", str(out), "--k", "2", "--no-eval", "--n-init", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "internal error (KeyError" in err and "vibemap -v" in err
    assert "Traceback" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["mini.csv"]
    assert main(["-v", *argv]) == 1
    assert "Traceback" in capsys.readouterr().err

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pipeline, "write_labelled_csv", no_memory)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("vibemap: error: out of memory; the README's sizing section gives "
                           "the memory each catalogue size needs")

"""``vibemap recommend`` and ``vibemap serve`` through the console script's main()."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from factories import build_tiny_artifact
from vibemap import cli
from vibemap.recommender import commands


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("cli"), n=150, n_clusters=3)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    """cli.main with our subcommands registered (whether or not cli.py wires them yet)."""
    build = cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "recommend" not in sub.choices:
            commands.register(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    monkeypatch.delenv("VIBEMAP_INDEX", raising=False)
    return cli.main


def _first_track(artifact: Path) -> tuple[str, str]:
    from vibemap.recommender.engine import Engine

    engine = Engine.load(artifact)
    top = engine.search_tracks(limit=1)["results"][0]
    return top["track_id"], top["name"]


def test_recommend_prints_a_table(run, artifact: Path, capsys: pytest.CaptureFixture) -> None:
    track_id, name = _first_track(artifact)
    code = run(["recommend", track_id, "--index", str(artifact), "--limit", "4",
                "--scope", "same"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Next best tracks" in out and name in out
    assert "score" in out and "closest" in out
    rows = [line for line in out.splitlines() if line.startswith("│") and "Song" in line]
    assert len(rows) >= 4


def test_unknown_track_exits_2_with_one_line(run, artifact: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    code = run(["recommend", "no-such-track", "--index", str(artifact)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip() == "vibemap: error: unknown track id 'no-such-track'"


def test_unknown_scope_and_missing_index_exit_2(run, artifact: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    track_id, _ = _first_track(artifact)
    assert run(["recommend", track_id, "--index", str(artifact), "--scope", "nowhere"]) == 2
    assert "unknown vibe 'nowhere'" in capsys.readouterr().err
    assert run(["recommend", track_id, "--index", str(tmp_path / "none")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_serve_loads_then_runs_uvicorn(run, artifact: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    import uvicorn

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    with socket.socket() as free:  # serve checks the port can be bound before it loads
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert run(["serve", "--index", str(artifact), "--port", str(port)]) == 0
    assert calls["port"] == port and calls["host"] == "127.0.0.1"
    # request-head limits and timeouts, so half-open connections are dropped
    assert calls["http"].max_head_bytes > 0 and calls["timeout_keep_alive"] > 0
    assert calls["http"].head_timeout > 0
    assert calls["app"].state.service.current.engine.n_tracks == 150
    assert "serving tiny" in capsys.readouterr().out


def test_serve_fails_fast_without_an_artifact(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    assert run(["serve", "--index", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.startswith("vibemap: error:")


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_host_nothing_can_listen_on_exits_2_before_any_work(
        command: str, run, artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """A host that does not resolve (a typo; also from $VIBEMAP_HOST) is named in one line,
    before the artifact loads (serve) or the demo artifact is built (demo)."""
    import uvicorn

    from vibemap.indexer import pipeline

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    monkeypatch.setattr(pipeline, "build_index", lambda *a, **k: pytest.fail("no build"))
    index = artifact if command == "serve" else tmp_path / "demo"
    assert run([command, "--index", str(index), "--host", "999.1.1.1", "--port", "8123"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vibemap: error: cannot listen on host '999.1.1.1': not an address")
    assert len(err.splitlines()) == 1 and not (tmp_path / "demo").exists()
    if command == "serve":
        monkeypatch.setenv("VIBEMAP_HOST", "bad..host")
        assert run(["serve", "--index", str(index)]) == 2
        assert "cannot listen on host 'bad..host'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["serve", "demo", "ui"])
def test_a_port_already_taken_exits_2_before_any_work(
        command: str, run, artifact: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    import uvicorn

    from vibemap.indexer import pipeline
    from vibemap.ui import app as ui_app

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    monkeypatch.setattr(pipeline, "build_index", lambda *a, **k: pytest.fail("no build"))
    monkeypatch.setattr(ui_app, "run_ui", lambda *a, **k: pytest.fail("no UI"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["ui", "--api", "http://127.0.0.1:9"] if command == "ui" else \
            [command, "--index", str(artifact)]
        assert run([*args, "--port", port]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vibemap: error: cannot listen on 127.0.0.1:{port}: Address already in use "
                   "(another server there? choose another --port)")

"""`vibemap serve --workers 2`: hot reload reaches every worker, atomically per response; heavy
routes in niced child processes answer exactly what the thread pool answers, across a reload.

The live test starts real processes (2 uvicorn workers) on a free
127.0.0.1 port and drives them for a few seconds with bench/bench_load.py's httpx client while
POST /admin/reload alternates two artifacts.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import assert_clean_reloads, bench_module
from vibemap.recommender.api import ARTIFACT_HEADER, create_app, generation
from vibemap.recommender.settings import ServiceSettings

TOKEN = "workers-admin-token"


bench_load = bench_module("bench_load")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bench_load.build_pair(tmp_path_factory.mktemp("workers"), n_a=600, n_b=300)


def test_the_pointer_advances_one_generation_per_reload(tmp_path: Path) -> None:
    file = tmp_path / "current.json"
    assert generation.init_pointer(file, tmp_path / "a") == generation.Pointer(
        (tmp_path / "a").resolve(), 0)
    before = generation.stamp(file)
    assert generation.advance(file, tmp_path / "b").generation == 1
    assert generation.advance(file, tmp_path / "a").generation == 2
    assert generation.read_pointer(file) == generation.Pointer((tmp_path / "a").resolve(), 2)
    assert generation.stamp(file) != before
    assert generation.acknowledged(file, 2) == 0
    generation.acknowledge(file, 2)
    (tmp_path / f"worker-{os.getppid()}.gen").write_text("1")  # a live worker, old generation
    (tmp_path / f"worker-{2**22 + 1}.gen").write_text("2")  # no such process: not counted
    assert generation.acknowledged(file, 2) == 1 and generation.acknowledged(file, 1) == 2
    generation.forget(file)
    assert generation.acknowledged(file, 2) == 0 and generation.acknowledged(file, 1) == 1
    assert not list(tmp_path.glob("*.tmp"))


HEAVY = [("POST", "/v1/recommendations", {"json": {"seed_tracks": ["seed-001"], "limit": 5,
                                                   "diversity": 0.5}}),
         ("GET", "/v1/recommendations", {"params": {"seed_tracks": "nope"}}),
         ("POST", "/v1/recommendations/batch", {"json": {"requests": [
             {"seed_tracks": ["seed-002"], "limit": 3}, {"seed_tracks": ["nope"]}, "x"]}}),
         ("GET", "/v1/tracks.csv", {}),
         ("GET", "/v1/validation/pca", {})]


def _answers(client: TestClient) -> list[tuple[int, str, bytes]]:
    return [(r.status_code, r.headers[ARTIFACT_HEADER], r.content)
            for r in (client.request(m, url, **kw) for m, url, kw in HEAVY)]


def test_heavy_children_answer_like_threads_across_a_reload(pair: dict[str, Path]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    runs = {}
    for processes in (0, 1):
        settings = ServiceSettings(index_dir=pair["alpha"], admin_token=TOKEN,
                                   heavy_processes=processes)
        with TestClient(create_app(settings)) as c:
            before = _answers(c)
            assert c.post("/admin/reload", headers=auth, json={"name": "beta"}).status_code == 200
            runs[processes] = (before, _answers(c))
            if processes:
                children = c.app.state.service.heavy.children
                assert [ch.process.is_alive() for ch in children] == [True]
        if processes:
            assert not children[0].process.is_alive()  # stopped with the app
    assert runs[0] == runs[1]
    before, after = runs[1]
    assert [s for s, _, _ in before] == [200, 404, 200, 200, 200]
    assert {t for _, t, _ in before} != {t for _, t, _ in after}
    assert b"b-0" in after[0][2] and b"b-0" not in before[0][2]


def test_the_service_answers_before_its_heavy_child_is_ready(pair: dict[str, Path]) -> None:
    """The lifespan does not wait for the heavy child (a second interpreter's imports and
    load: most of a start-up): light routes answer at once, the first heavy call waits for
    the child's ready signal, and a child never asked is stopped at shutdown."""
    settings = ServiceSettings(index_dir=pair["alpha"], heavy_processes=1)
    with TestClient(create_app(settings)) as c:
        child = c.app.state.service.heavy.children[0]
        assert c.get("/health").status_code == 200
        assert c.get("/v1/tracks/seed-001/similar").status_code == 200
        assert child.ready is False  # nothing has waited for it
        r = c.post("/v1/recommendations", json={"seed_tracks": ["seed-001"], "limit": 3})
        assert r.status_code == 200 and len(r.json()["results"]) == 3
        assert child.ready is True
    assert not child.process.is_alive()
    with TestClient(create_app(settings)) as c:  # stopped while (perhaps) still starting
        child = c.app.state.service.heavy.children[0]
    assert not child.ready and not child.process.is_alive()


def _fresh_health(base: str) -> dict:
    with urllib.request.urlopen(base + "/health", timeout=10) as r:  # noqa: S310 - loopback
        return {"tag": r.headers[ARTIFACT_HEADER], **json.loads(r.read())}


def test_two_workers_reload_under_load(pair: dict[str, Path], tmp_path: Path) -> None:
    """Zero failed requests, each response from exactly one artifact (tag and ids agree),
    and after the last reload every worker serves the artifact it named."""
    expected = bench_load.expected_of(pair)
    log = tmp_path / "server.log"
    # heavy routes on threads here: the children across reloads are tested above, and two
    # more interpreters to start would double this test's time on a small machine
    with bench_load.serve(pair["alpha"], TOKEN, log, args=["--workers", "2"],
                          env={"VIBEMAP_HEAVY_PROCESSES": "0"}) as base:
        deadline = time.monotonic() + 90
        while _fresh_health(base).get("workers") != 2:  # the second worker may start later
            assert time.monotonic() < deadline, "the second worker never started"
            time.sleep(0.2)
        result = bench_load.run_httpx(base, TOKEN, duration=8.0, concurrency=16,
                                      reload_every=1.0, expected=expected)
        final = result["reloads"] and ("alpha", "beta")[result["reloads"] % 2]
        # fresh connections, many at once, land on both workers (each loaded at its own time)
        seen: list[dict] = []
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            for _ in range(10):
                seen += pool.map(_fresh_health, [base] * 16)
                if len({h["loaded_at"] for h in seen}) >= 2:
                    break
    assert_clean_reloads(result, min_reloads=4)
    assert {h["artifact"] for h in seen} == {final}, seen
    assert len({h["loaded_at"] for h in seen}) == 2, "both workers answered /health"
    assert {h["workers"] for h in seen} == {2}


def test_workers_rebuild_the_serve_settings_from_their_environment(tmp_path: Path) -> None:
    from dataclasses import replace

    from vibemap.recommender.commands import worker_environment

    settings = ServiceSettings(index_dir=tmp_path / "a", host="0.0.0.0", port=8123, workers=3,
                               heavy_processes=1, indexes_root=tmp_path)
    pointer = tmp_path / "current.json"
    rebuilt = ServiceSettings.from_env(worker_environment(settings, pointer))
    assert rebuilt == replace(settings, generation_file=pointer)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_serve_refuses_a_bad_worker_count(value: str, capsys: pytest.CaptureFixture) -> None:
    from vibemap.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--workers", value])
    assert exc.value.code == 2 and "--workers" in capsys.readouterr().err

"""Under load, POST /admin/reload swaps artifacts without one failed request, and every
answer comes from one complete artifact (named by its X-Vibemap-Artifact header), never a mix.

The live test runs `vibemap serve` as a subprocess on a free 127.0.0.1 port for ~10 s with
24 concurrent clients (bench/bench_load.py's httpx driver); `make bench` runs the 60 s,
64-connection version with wrk.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from factories import assert_clean_reloads, bench_module
from vibemap.recommender.api import ARTIFACT_HEADER, create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

TOKEN = "load-admin-token"


bench_load = bench_module("bench_load")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bench_load.build_pair(tmp_path_factory.mktemp("load"), n_a=600, n_b=300)


def test_the_header_names_the_engine_each_request_used(pair: dict[str, Path]) -> None:
    """In process: every answer that used an engine carries its name@created_at, errors too;
    a reload changes it for the requests after it, atomically."""
    alpha, beta = (Engine.load(pair[n]) for n in ("alpha", "beta"))
    tags = {}
    for name, engine in (("alpha", alpha), ("beta", beta)):
        created = engine.artifact.manifest["created_at"]
        tags[name] = quote(f"{name}@{created}", safe="@:+-._~")
    app = create_app(ServiceSettings(index_dir=pair["alpha"], admin_token=TOKEN), engine=alpha)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as c:
        for path in ("/health", "/v1/artifact", "/v1/vibes", "/v1/tracks?limit=2",
                     "/v1/tracks/seed-001", "/v1/tracks/seed-001/similar", "/v1/tracks.csv",
                     "/v1/tracks/nope", "/v1/recommendations?seed_tracks=nope",
                     "/v1/tracks?limit=0"):
            r = c.get(path)
            assert r.headers[ARTIFACT_HEADER] == tags["alpha"], (path, r.status_code)
        assert ARTIFACT_HEADER.lower() not in {h.lower() for h in c.get("/v2/x").headers}
        swapped = c.post("/admin/reload", headers=auth, json={"name": "beta"})
        assert swapped.status_code == 200 and swapped.headers[ARTIFACT_HEADER] == tags["beta"]
        r = c.post("/v1/recommendations", json={"seed_tracks": ["seed-002"], "limit": 5})
        assert r.headers[ARTIFACT_HEADER] == tags["beta"]
        beta_ids = {beta.summary(i)["track_id"] for i in range(beta.n_tracks)}
        assert {t["track_id"] for t in r.json()["results"]} <= beta_ids
        assert all(t["track_id"].startswith("b-") or t["track_id"].startswith("seed-")
                   for t in r.json()["results"])
    none = create_app(ServiceSettings(index_dir=pair["alpha"].parent / "missing"))
    with TestClient(none) as c:
        r = c.get("/v1/vibes")
        assert r.status_code == 503 and ARTIFACT_HEADER.lower() not in r.headers


def test_load_with_reloads_never_fails_and_never_mixes(pair: dict[str, Path],
                                                       tmp_path: Path) -> None:
    expected = bench_load.expected_of(pair)
    assert {e.name for e in expected.values()} == {"alpha", "beta"}
    with bench_load.serve(pair["alpha"], TOKEN, tmp_path / "server.log") as base:
        result = bench_load.run_httpx(base, TOKEN, duration=10.0, concurrency=24,
                                      reload_every=1.0, expected=expected)
        # the checker itself: with each artifact's ids swapped, every answer must be flagged
        (t1, e1), (t2, e2) = expected.items()
        crossed = {t1: replace(e1, ids=e2.ids - e1.ids), t2: replace(e2, ids=e1.ids - e2.ids)}
        control = bench_load.run_httpx(base, TOKEN, duration=1.5, concurrency=4,
                                       reload_every=60.0, expected=crossed)
    assert control["ok"] == 0 and control["mismatches"] > 0 and control["failed"] == 0
    summary = assert_clean_reloads(result, min_reloads=5)
    assert result["ok"] >= 200, summary


@pytest.mark.bench
def test_bench_load_60s_with_wrk(tmp_path: Path) -> None:
    """The long version: 60 s, 64 connections, reload every 3 s (wrk where installed)."""
    out = tmp_path / "load.json"
    assert bench_load.main(["--duration", "60", "--concurrency", "64", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["failed"] == 0 and r["mismatches"] == 0 and r["reloads"] >= 10

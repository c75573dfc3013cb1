"""The /similar fast lane (recommender.api.fast_lane): its answers are the app's, byte for
byte, and everything out of the plain case reaches the app untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap.recommender.api import create_app, get_engine
from vibemap.recommender.api.fast_lane import SimilarFastLane
from vibemap.recommender.engine import Engine
from vibemap.recommender.metrics import ServiceMetrics
from vibemap.recommender.settings import ServiceSettings

QUERIES = ["", "?limit=3", "?scope=any&offset=2", "?dedupe_versions=false&limit=25",
           "?limit=1&scope=0", "?unknown=1"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    path = build_tiny_artifact(tmp_path_factory.mktemp("lane"), n=240, n_clusters=3)
    return create_app(ServiceSettings(index_dir=path), engine=Engine.load(path))


@pytest.fixture(scope="module")
def track_id(app) -> str:
    return app.state.service.current.engine.catalogue.ids[5]


def _drive(lane: SimilarFastLane, app, method: str, path: str, query: bytes = b"",
           headers: list | None = None) -> tuple[list[dict], list[dict]]:
    """(messages sent, scopes the inner app received) of one request through ``lane``."""
    sent, handed = [], []

    async def inner(scope, receive, send) -> None:
        handed.append(scope)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    lane.app = inner
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "headers": headers or [], "app": app}
    asyncio.run(lane(scope, receive, send))
    return sent, handed


def test_its_answers_are_the_apps_byte_for_byte(app, track_id: str) -> None:
    client = TestClient(app)
    for query in QUERIES:
        url = f"/v1/tracks/{track_id}/similar{query}"
        fast = client.get(url)
        ordinary = client.get(url, headers={"Origin": "http://x"})  # handed to the app
        assert fast.status_code == ordinary.status_code == 200
        assert fast.content == ordinary.content
        assert fast.headers.items() == ordinary.headers.items()
    metrics = client.get("/metrics").text
    assert ('vibemap_http_requests_total{method="GET",route="/v1/tracks/{track_id}/similar",'
            f'status="200"}} {2.0 * len(QUERIES)}') in metrics


def test_the_plain_case_never_reaches_the_app(app, track_id: str) -> None:
    lane = SimilarFastLane(None, ServiceMetrics())
    sent, handed = _drive(lane, app, "GET", f"/v1/tracks/{track_id}/similar", b"limit=4")
    assert not handed and sent[0]["status"] == 200 and len(sent) == 2
    assert dict(sent[0]["headers"])[b"x-vibemap-artifact"]


@pytest.mark.parametrize("method, path, query, headers", [
    ("HEAD", "/v1/tracks/{id}/similar", b"", []),
    ("GET", "/v1/tracks/no-such-track/similar", b"", []),
    ("GET", "/v1/tracks/{id}/similar", b"limit=0", []),
    ("GET", "/v1/tracks/{id}/similar", b"max_per_artist=1", []),  # off the event loop
    ("GET", "/v1/tracks/{id}/similar", b"audio_only=true", []),
    ("GET", "/v1/tracks/{id}/similar", b"q=" + b"x" * 9000, []),  # 414
    ("GET", "/v1/tracks/{id}/similar", b"", [(b"content-length", b"5")]),
    ("GET", "/v1/tracks/{id}/similar", b"", [(b"x-pad", b"y" * 40000)]),  # 431
    ("GET", "/v1/tracks//similar", b"", []),
    ("GET", "/v1/tracks/{id}", b"", []),
    ("GET", "/v1/tracks/" + "x" * 201 + "/similar", b"", []),
])
def test_everything_else_reaches_the_app(app, track_id: str, method: str, path: str,
                                         query: bytes, headers: list) -> None:
    lane = SimilarFastLane(None, ServiceMetrics())
    sent, handed = _drive(lane, app, method, path.replace("{id}", track_id), query, headers)
    assert not sent and len(handed) == 1


def test_overrides_and_a_missing_artifact_reach_the_app(app, track_id: str) -> None:
    lane = SimilarFastLane(None, ServiceMetrics())
    path = f"/v1/tracks/{track_id}/similar"
    app.dependency_overrides[get_engine] = lambda: None
    try:
        assert _drive(lane, app, "GET", path)[1]
    finally:
        app.dependency_overrides.clear()
    state = app.state.service
    loaded, state.current = state.current, None
    try:
        assert _drive(lane, app, "GET", path)[1]
    finally:
        state.current = loaded
    assert not _drive(lane, app, "GET", path)[1]


def test_errors_come_from_the_app(app) -> None:
    r = TestClient(app).get("/v1/tracks/no-such-track/similar")
    assert r.status_code == 404 and r.json()["code"] == "track_not_found"
    assert Path(app.state.settings.index_dir).name in r.headers["x-vibemap-artifact"]

"""The web edge (issue 15): request cost bounded with 422 naming the limit, heavy work off
the event loop, exports limited, HTTP hygiene (HEAD, Allow, oversized URLs and headers,
half-open connections), reload confined to VIBEMAP_INDEXES with no server paths shown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from factories import build_tiny_artifact
from vibemap.recommender.api import create_app
from vibemap.recommender.api.middleware import MAX_HEADER_BYTES, MAX_URL_BYTES
from vibemap.recommender.api.server import GuardedHttpToolsProtocol, uvicorn_options
from vibemap.recommender.engine import Engine
from vibemap.recommender.schemas import MAX_BATCH_COST, MAX_DIVERSE_DEPTH
from vibemap.recommender.settings import ServiceSettings

TOKEN = "hygiene-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("hygiene"), n=120, n_clusters=2)


@pytest.fixture(scope="module")
def client(artifact: Path) -> TestClient:
    app = create_app(ServiceSettings(index_dir=artifact, admin_token=TOKEN),
                     engine=Engine.load(artifact))
    with TestClient(app) as c:
        yield c


def ids(client: TestClient, n: int = 5) -> list[str]:
    return [t["track_id"] for t in client.get("/v1/tracks", params={"limit": n}).json()["results"]]


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code, body
    return body["detail"]


# ------------------------------------------------------------------ request cost
def test_diverse_depth_over_the_bound_is_422_naming_the_limit(client: TestClient) -> None:
    seed = ids(client, 1)[0]
    deep = {"seed_tracks": [seed], "diversity": 0.5, "limit": 100,
            "offset": MAX_DIVERSE_DEPTH - 99}
    for r in (client.post("/v1/recommendations", json=deep),
              client.get("/v1/recommendations", params={**deep, "seed_tracks": seed})):
        detail = error(r, 422, "invalid_query")
        assert "MAX_DIVERSE_DEPTH" in detail and str(MAX_DIVERSE_DEPTH) in detail
    at_bound = {**deep, "offset": MAX_DIVERSE_DEPTH - 100}
    assert client.post("/v1/recommendations", json=at_bound).status_code == 200
    # without diversity the same depth is fine: no MMR
    assert client.post("/v1/recommendations", json={**deep, "diversity": 0}).status_code == 200


def test_batch_over_the_cost_budget_is_422_naming_the_limit(client: TestClient) -> None:
    seed = ids(client, 1)[0]
    item = {"seed_tracks": [seed], "limit": 100, "offset": 10_000}
    r = client.post("/v1/recommendations/batch", json={"requests": [item] * 10})
    detail = error(r, 422, "invalid_query")
    assert f"MAX_BATCH_COST={MAX_BATCH_COST}" in detail
    ok = client.post("/v1/recommendations/batch", json={"requests": [item] * 9})
    assert ok.status_code == 200 and [x["status"] for x in ok.json()["results"]] == [200] * 9
    # invalid items cost nothing and keep their own 422
    mixed = client.post("/v1/recommendations/batch", json={"requests": [item, {"limit": 0}]})
    assert [x["status"] for x in mixed.json()["results"]] == [200, 422]


def test_concurrent_exports_over_the_limit_get_429(client: TestClient) -> None:
    exports = client.app.state.service.exports
    with exports.take(), exports.take():  # max_exports = 2, both busy
        for path in ("/v1/tracks.csv", "/v1/validation/pca"):
            assert "exports" in error(client.get(path), 429, "busy")
    assert client.get("/v1/tracks.csv").status_code == 200


def test_health_answers_while_a_slow_engine_call_runs(artifact: Path) -> None:
    """A blocking engine call runs on a worker thread: /health is served meanwhile."""
    engine = Engine.load(artifact)
    released = threading.Event()

    def slow_recommend(*args, **kwargs):
        released.wait(10)  # blocks its thread, as a CPU-bound call would
        return {"seeds": [], "negatives": [], "targets": {}, "scope": {}, "limit": 1,
                "offset": 0, "results": []}

    engine.recommend = slow_recommend  # type: ignore[method-assign]
    app = create_app(ServiceSettings(index_dir=artifact), engine=engine)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            heavy = asyncio.create_task(c.post("/v1/recommendations",
                                               json={"target_energy": 0.5}))
            await asyncio.sleep(0.2)
            health = await asyncio.wait_for(c.get("/health"), timeout=5)
            assert health.status_code == 200
            assert not heavy.done()  # still blocked in its thread
            released.set()
            assert (await heavy).status_code == 200

    asyncio.run(scenario())


def test_a_full_pool_answers_429_at_once(artifact: Path) -> None:
    engine = Engine.load(artifact)
    settings = ServiceSettings(index_dir=artifact, heavy_threads=1, queue_limit=1)
    app = create_app(settings, engine=engine)
    pool = app.state.service.heavy
    with pool.slots.take(), pool.slots.take():  # one running, one queued
        with TestClient(app) as c:
            r = c.post("/v1/recommendations", json={"target_energy": 0.5})
            assert "heavy requests" in error(r, 429, "busy")


# ------------------------------------------------------------------ HTTP hygiene
@pytest.mark.parametrize("path", ["/health", "/v1/artifact", "/v1/tracks?limit=3",
                                  "/v1/tracks.csv", "/v1/vibes/0"])
def test_head_works_where_get_does(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


def test_405_carries_allow_with_every_method(client: TestClient) -> None:
    r = client.delete("/v1/recommendations")
    error(r, 405, "method_not_allowed")
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    r = client.put("/admin/reload")
    assert error(r, 405, "method_not_allowed") and r.headers["allow"] == "POST"


def test_oversized_url_and_headers_get_the_json_shape(client: TestClient) -> None:
    detail = error(client.get("/v1/tracks", params={"q": "x" * MAX_URL_BYTES}), 414,
                   "uri_too_long")
    assert str(MAX_URL_BYTES) in detail
    big = {f"x-pad-{i}": "y" * 1000 for i in range(MAX_HEADER_BYTES // 1000 + 1)}
    detail = error(client.get("/health", headers=big), 431, "request_header_fields_too_large")
    assert str(MAX_HEADER_BYTES) in detail


def test_routes_taking_a_query_document_the_request_limits(client: TestClient) -> None:
    """A long query string gets 414 from any route (the fuzzer once found it undocumented
    on /v1/tracks.csv): the routes that take one say so in the schema."""
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if any(p.get("in") == "query" for p in op.get("parameters", [])):
                assert {"414", "431"} <= set(op["responses"]), (method, path)
                checked += 1
    assert checked >= 5


def test_serve_sets_uvicorn_limits_and_timeouts() -> None:
    opts = uvicorn_options("127.0.0.1", 8000)
    assert opts["http"] is GuardedHttpToolsProtocol
    assert GuardedHttpToolsProtocol.max_head_bytes > MAX_HEADER_BYTES + MAX_URL_BYTES
    assert 0 < opts["timeout_keep_alive"] <= 10 and opts["limit_concurrency"] > 0


@contextmanager
def live_server(app, head_timeout: float) -> Iterator[int]:
    """uvicorn in a thread with ``vibemap serve``'s options and a short head timeout; yields
    the port once it answers, stops it afterwards."""

    quick = type("Quick", (GuardedHttpToolsProtocol,), {"head_timeout": head_timeout})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **{**uvicorn_options("127.0.0.1", port),
                                                   "http": quick}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_half_open_connections_are_dropped(artifact: Path) -> None:
    """A live uvicorn with the guarded protocol: a connection that never completes its
    request head is closed; a complete request is answered."""
    app = create_app(ServiceSettings(index_dir=artifact), engine=Engine.load(artifact))
    with live_server(app, head_timeout=0.5) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # no final blank line
            assert sock.recv(1024) == b""  # closed by the server, not by our timeout


def test_an_oversized_head_gets_400_and_a_large_one_in_pieces_passes(artifact: Path) -> None:
    """Over the server's head limit (an incomplete head, sent in pieces): 400 and closed; a
    head under it, trickled in small pieces, is answered (431 from the middleware here)."""
    app = create_app(ServiceSettings(index_dir=artifact), engine=Engine.load(artifact))
    limit = GuardedHttpToolsProtocol.max_head_bytes
    with live_server(app, head_timeout=5) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            for i in range(limit // 1000 + 2):
                try:
                    sock.sendall(b"x-pad-%d: %s\r\n" % (i, b"y" * 990))
                except OSError:  # closed by the server already
                    break
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            assert received.startswith(b"HTTP/1.1 400") and b"head too large" in received
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
                b"x-pad-%d: %s\r\n" % (i, b"y" * 990) for i in range(40)) + b"\r\n"
            assert MAX_HEADER_BYTES < len(head) < limit
            for i in range(0, len(head), 700):
                sock.sendall(head[i:i + 700])
            assert sock.recv(65536).startswith(b"HTTP/1.1 431")


def test_a_400_reaches_a_client_that_keeps_sending(artifact: Path) -> None:
    """A head far over the limit sent at once, and more after it: the server answers 400,
    drops the rest and closes lingering, so the client reads the 400 and an orderly end.
    (Closed at once with unread input, the server's socket sent a reset that discarded
    the answer.)"""
    app = create_app(ServiceSettings(index_dir=artifact), engine=Engine.load(artifact))
    limit = GuardedHttpToolsProtocol.max_head_bytes
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"x-pad-%d: %s\r\n" % (i, b"y" * 990) for i in range(4 * limit // 1000))
    with live_server(app, head_timeout=5) as port:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(head)
                time.sleep(0.2)
                sock.sendall(b"x-more: " + b"z" * 50_000 + b"\r\n")
                time.sleep(0.2)
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
                assert received.startswith(b"HTTP/1.1 400") and b"head too large" in received


def test_a_running_request_is_not_dropped_by_the_head_timer() -> None:
    """A request whose head is complete runs as long as it needs: here one pipelined behind a
    quick one (so its cycle starts as the first response completes) outlasts the head timer."""
    import asyncio

    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict:
        await asyncio.sleep(1.0)
        return {"ok": True}

    with live_server(app, head_timeout=0.3) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while received.count(b"HTTP/1.1 200") < 2 or not received.endswith(b'{"ok":true}'):
                chunk = sock.recv(65536)
                assert chunk, f"connection dropped mid-request after {received[:80]!r}"
                received += chunk


# ------------------------------------------------------------------ reload confinement
def test_reload_refuses_symlinks_leaving_the_indexes_root(tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    served = build_tiny_artifact(tmp_path, n=60, n_clusters=2, name="served")
    (tmp_path / "elsewhere").mkdir()
    outside = build_tiny_artifact(tmp_path / "elsewhere", n=60, n_clusters=2, name="other")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "alias").symlink_to(served, target_is_directory=True)  # stays inside: allowed
    app = create_app(ServiceSettings(index_dir=served, admin_token=TOKEN, indexes_root=root),
                     engine=Engine.load(served))
    with TestClient(app) as c:
        detail = error(c.post("/admin/reload", headers=AUTH, json={"name": "escape"}), 422,
                       "invalid_query")
        assert "outside the indexes root" in detail and str(tmp_path) not in detail
        assert c.get("/v1/artifact").json()["name"] == "served"
        ok = c.post("/admin/reload", headers=AUTH, json={"name": "alias"})
        assert ok.status_code == 200 and ok.json()["artifact"] == "served"
        (root / "broken").mkdir()
        detail = error(c.post("/admin/reload", headers=AUTH, json={"name": "broken"}), 422,
                       "artifact_error")
        assert detail.startswith("broken") and str(tmp_path) not in detail


def test_startup_failure_reason_shows_no_server_path(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(index_dir=tmp_path / "indexes" / "gone"))
    with TestClient(app) as c:
        body = c.get("/health").json()
        assert body["status"] == "unavailable" and str(tmp_path) not in body["detail"]
        assert body["detail"].startswith("gone: no artifact directory here")
        assert str(tmp_path) not in c.get("/v1/vibes").json()["detail"]


def test_json_answers_render_other_keys_too_and_numpy_values() -> None:
    """render_json takes orjson's plain path for string keys and falls back to its
    non-string-key option only when a dict needs it; either way the bytes are orjson's."""
    import numpy as np
    import orjson

    from vibemap.recommender.api.responses import render_json

    both = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    for content in ({"a": [1, 2.5, None], "b": {"c": "é"}}, {1: "x", "n": {2: [3]}},
                    {"v": np.arange(3, dtype=np.int32), "f": np.float32(0.25)}):
        assert render_json(content) == orjson.dumps(content, option=both)
    with pytest.raises(TypeError):
        render_json({"bad": object()})

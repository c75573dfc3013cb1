"""The hot route's fast lane: ``GET /v1/tracks/{id}/similar`` answered at the outermost
ASGI layer, without the middleware stack, the router and the route's own handler, whose
per-request work cost more than the search (bench/RESULTS.md, "HTTP: lean `/similar`").

It answers only the plain case and hands everything else to the app untouched, so every
answer it gives is the one the app would give (a test compares them byte for byte): a GET
within the URL and header limits, without a body, an ``Origin`` header (CORS) or a root
path, while no dependency is overridden and an artifact is loaded, whose query is valid and
cheap enough for the event loop (``runs_inline``), and whose search succeeds. Any error
goes to the app, which runs the request again and answers it as usual (errors are rare;
the search has no side effects). It records the request's metrics as the app does.
"""

from __future__ import annotations

import time

from starlette.datastructures import QueryParams

from vibemap.recommender.api.deps import validate_query
from vibemap.recommender.api.middleware import ARTIFACT_HEADER, MAX_HEADER_BYTES, MAX_URL_BYTES
from vibemap.recommender.api.responses import render_json
from vibemap.recommender.api.routes.tracks import runs_inline, similar_args
from vibemap.recommender.metrics import ServiceMetrics
from vibemap.recommender.schemas import MAX_TEXT, SimilarQuery

PREFIX, SUFFIX = "/v1/tracks/", "/similar"
ROUTE = "/v1/tracks/{track_id}/similar"  # the metrics' route label (MetricsMiddleware's)
# request headers after which the app must answer: a body (limits), CORS
HAND_OVER = frozenset({b"content-length", b"transfer-encoding", b"origin"})
_ARTIFACT = ARTIFACT_HEADER.lower().encode("latin-1")


class SimilarFastLane:
    """Pure ASGI middleware, outermost: the plain ``/similar`` GET answered here, every
    other request passed to ``app``."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            start = time.perf_counter()
            answer = self._answer(scope)
            if answer is not None:
                body, tag = answer
                headers = [(b"content-length", str(len(body)).encode("latin-1")),
                           (b"content-type", b"application/json")]
                if tag:
                    headers.append((_ARTIFACT, tag))
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                self.metrics.record("GET", ROUTE, 200, time.perf_counter() - start)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(scope) -> tuple[bytes, bytes] | None:
        """(body, artifact tag) of the plain case, or None: the app answers."""
        path = scope["path"]
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)) or scope.get("root_path"):
            return None
        track_id = path[len(PREFIX):-len(SUFFIX)]
        app = scope.get("app")
        if not 0 < len(track_id) <= MAX_TEXT or app is None or app.dependency_overrides:
            return None
        query = scope.get("query_string") or b""
        if len(scope.get("raw_path") or path.encode()) + len(query) > MAX_URL_BYTES:
            return None
        size = 0
        for name, value in scope["headers"]:
            if name in HAND_OVER:
                return None
            size += len(name) + len(value)
        loaded = app.state.service.current
        if size > MAX_HEADER_BYTES or loaded is None:
            return None
        try:
            q = validate_query(SimilarQuery, QueryParams(query))
            if not runs_inline(q):
                return None
            return render_json(loaded.engine.similar(track_id, **similar_args(q))), loaded.tag
        except Exception:  # noqa: BLE001 - any error: the app answers it as usual
            return None

"""Prometheus metrics of one app: request counts and latency by route template.

Each app owns its CollectorRegistry (no module-level collectors), so several apps in
one process (tests, reloads) never share or clash over metrics.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
# sub-millisecond engine calls up to slow batches
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED = "<unmatched>"


class ServiceMetrics:
    """The collectors of one app, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vibemap_http_requests", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "vibemap_http_request_duration_seconds", "HTTP request latency by route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.artifact_rows = Gauge(
            "vibemap_artifact_rows", "tracks in the loaded artifact (0 while none is loaded)",
            registry=self.registry)
        self.reloads = Counter(
            "vibemap_artifact_reloads", "artifact reloads by outcome", ["outcome"],
            registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple] = {}

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request: its count and latency under ``route`` (the children of each label
        set are kept, so a request costs no ``labels()`` lookup after the first)."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.latency.labels(method, route),
                        self.requests.labels(method, route, str(status)))
            self._children[(method, route, status)] = children
        children[0].observe(seconds)
        children[1].inc()


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body buffering) recording every HTTP
    request under its route template, e.g. ``/v1/tracks/{track_id}/similar``."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            # path_format drops convertors: /v1/tracks/{track_id}, not {track_id:path}
            template = getattr(route, "path_format", None) or getattr(route, "path", None) \
                or UNMATCHED
            self.metrics.record(scope.get("method", ""), template, status,
                                time.perf_counter() - start)

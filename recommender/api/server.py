"""How ``vibemap serve`` and ``vibemap demo`` run the app under uvicorn: request-head size
limits, keep-alive and head timeouts, so half-open and slow-header connections are dropped.

uvicorn itself times out only idle keep-alive connections; a client that opens a connection
and sends part of a request head (slowloris) would hold it forever. The h11 protocol below
closes a connection whose request head is not complete ``HEAD_TIMEOUT_S`` seconds after it
opened or after its previous response.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from vibemap.recommender.api.middleware import SERVER_MAX_HEAD_BYTES

HEAD_TIMEOUT_S = 10.0  # a whole request head must arrive within this
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 1000  # more concurrent connections get uvicorn's 503
GRACEFUL_SHUTDOWN_S = 10
# --workers: the supervisor replaces a worker that does not answer its ping within this; a
# starting worker imports FastAPI, faiss and the app (~5 s of CPU, 15 s on a busy 2-core host)
WORKER_HEALTHCHECK_S = 60


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that drops a connection still waiting for a complete request
    head ``head_timeout`` seconds after it opened or after its last response."""

    head_timeout = HEAD_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._drop_if_no_head,
                                                self.cycle)

    def _drop_if_no_head(self, cycle: object) -> None:
        # h11 leaves IDLE once a complete head arrives. Checking the state, not only the
        # cycle, matters: a request already buffered when the previous response completed
        # starts its cycle before the timer is re-armed, and must not be dropped while it runs.
        if (self.cycle is cycle and self.conn.their_state is h11.IDLE
                and not self.transport.is_closing()):
            self.transport.close()


def uvicorn_options(host: str, port: int, verbose: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: the limits and timeouts above."""
    return {
        "host": host, "port": port,
        "log_level": "info" if verbose else "warning",
        "http": HeadTimeoutH11Protocol,
        "h11_max_incomplete_event_size": SERVER_MAX_HEAD_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": MAX_CONNECTIONS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }

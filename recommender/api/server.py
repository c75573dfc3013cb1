"""How ``vibemap serve`` and ``vibemap demo`` run the app under uvicorn: request-head size
limits, keep-alive and head timeouts, so half-open and slow-header connections are dropped.

uvicorn itself times out only idle keep-alive connections; a client that opens a connection
and sends part of a request head (slowloris) would hold it forever, and its httptools
(llhttp) protocol has no limit on a head's size. The protocol below closes a connection
whose request head is not complete ``HEAD_TIMEOUT_S`` seconds after it opened or after its
previous response, and answers 400 and closes once more than ``SERVER_MAX_HEAD_BYTES`` of
an incomplete head arrived. It is uvicorn's httptools protocol, a C parser: the pure-Python
h11 parser (whose incomplete-event limit was the size limit) cost a large share of a request
(bench/RESULTS.md, "HTTP: lean `/similar`").

After a 400 (a head too large, or not HTTP) the connection closes lingering, as nginx does:
the answer goes out with a FIN, and what the client still sends is read and dropped for up
to ``LINGER_S`` seconds. Closed at once with unread input, the socket would send a reset,
which can reach the client before it reads the 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vibemap.recommender.api.middleware import SERVER_MAX_HEAD_BYTES

HEAD_TIMEOUT_S = 10.0  # a whole request head must arrive within this
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 1000  # more concurrent connections get uvicorn's 503
GRACEFUL_SHUTDOWN_S = 10
# --workers: the supervisor replaces a worker that does not answer its ping within this; a
# starting worker imports FastAPI, faiss and the app (~5 s of CPU, 15 s on a busy 2-core host)
WORKER_HEALTHCHECK_S = 60
HEAD_TOO_LARGE = "Request head too large."
LINGER_S = 2.0  # after a 400, the client's further input is dropped this long, then closed


class _HalfClosing:
    """A transport as ``send_400_response`` sees it: ``close()`` only ends the output (a FIN
    after the answer), so the input can still be drained; the rest is the transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.close = transport.write_eof

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head-size limit and a head timeout.

    Between the end of one request's head and the next head's end, every byte received
    counts towards ``max_head_bytes`` (the bytes of a chunk that also completed a head do
    not: the count errs low, never rejecting a valid head). A connection that holds no
    request (none running, none queued) and still waits for a complete head
    ``head_timeout`` seconds after it opened or after its last response is closed.
    """

    head_timeout = HEAD_TIMEOUT_S
    max_head_bytes = SERVER_MAX_HEAD_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        self._head_bytes = 0
        super().connection_made(transport)
        self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400, then a lingering close (see the module); closed at once, as
        uvicorn does, while an earlier request on the connection still runs (its answer
        could not be written after the end of the output)."""
        if self.cycle is not None and not self.cycle.response_complete:
            super().send_400_response(msg)
            return
        transport = self.transport
        self.transport = _HalfClosing(transport)  # type: ignore[assignment]
        try:
            super().send_400_response(msg)
        finally:
            self.transport = transport
        self._linger = self.loop.call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:  # answered 400: the rest is dropped
            return
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (self._awaiting_head and self._head_bytes > self.max_head_bytes
                and self._linger is None and not self.transport.is_closing()):
            self.send_400_response(HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._drop_if_no_head,
                                                self.cycle)

    def _drop_if_no_head(self, cycle: object) -> None:
        # idle: no request arrived since the timer was armed (same cycle), the one before
        # is answered, none is queued behind it, and the next head is incomplete
        idle = self.cycle is None or self.cycle.response_complete
        if (self.cycle is cycle and idle and not self.pipeline and self._awaiting_head
                and not self.transport.is_closing()):
            self.transport.close()


def uvicorn_options(host: str, port: int, verbose: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: the limits and timeouts above."""
    return {
        "host": host, "port": port,
        "log_level": "info" if verbose else "warning",
        # uvicorn formats every access-log line's arguments even when the level drops it
        "access_log": verbose,
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": MAX_CONNECTIONS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }

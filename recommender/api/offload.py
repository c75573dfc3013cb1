"""Heavy engine calls in child processes at a lower CPU priority.

Threads share the GIL, so heavy Python work (MMR steps, CSV rows, result dicts) in a thread
delays the event loop however few threads run it. A child process has its own interpreter,
and at a higher ``nice`` the kernel runs the event loop first whenever both want the CPU
(bench/RESULTS.md, "Starvation"). Children are started with ``spawn`` (never ``fork``: the
server has threads and OpenMP state), load the artifact themselves and keep at most two
engines (the current one and the one before a reload). Every call names the artifact it
needs by path and ``name@created_at`` key, so the answer comes from the engine the request
took, even across a reload; a child missing it loads it first, trusting the server's
checksums of that artifact for the files unchanged since (:mod:`vibemap.indexer.checksums`;
they travel with the call): a start or a reload hashes the artifact once, not once per
process. Requests and answers cross a pipe pickled (transient messages; the artifact itself
is never pickled). Answers are encoded to JSON in the child, off the event loop.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing as mp
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.responses import Response

from vibemap.indexer.checksums import Identity
from vibemap.indexer.errors import VibemapError
from vibemap.recommender.engine import Engine, set_search_threads
from vibemap.recommender.errors import Busy

logger = logging.getLogger(__name__)
KEEP_ENGINES = 2  # the current artifact and the one before a reload
Key = tuple[str, str]


def engine_key(engine: Engine) -> Key:
    """What a child caches an engine by: its path and creation time."""
    return str(engine.artifact.path), str(engine.artifact.manifest.get("created_at"))


def encode_json(content: Any) -> bytes:
    """``content`` as the service's JSON bytes (the one response class's rendering)."""
    from vibemap.recommender.api.responses import OrjsonResponse

    return OrjsonResponse(content).body


def json_body(body: bytes) -> Response:
    """A response of JSON bytes already encoded (by :func:`encode_json`)."""
    return Response(body, media_type="application/json")


def _rebuild(cls: type[VibemapError], message: str) -> VibemapError:
    """A domain error with ``message`` as its text, whatever its constructor takes."""
    exc = cls.__new__(cls)
    exc.args = (message,)
    return exc


def _child_main(conn: Connection, nice: int, search_threads: int, key: Key,
                trusted: dict[str, Identity]) -> None:
    """A heavy child: load the artifact (``trusted``: its files as the server verified
    them), then answer calls (each with its artifact's) until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when children stop
    if nice:
        os.nice(nice)
    set_search_threads(search_threads)
    engines: dict[Key, Engine] = {}

    def engine_for(k: Key, trusted: dict[str, Identity]) -> Engine:
        engine = engines.pop(k, None)
        if engine is None:
            engine = Engine.load(Path(k[0]), trusted=trusted)
        engines[k] = engine  # the most recently used last
        for old in list(engines)[:-KEEP_ENGINES]:
            del engines[old]
        return engine

    try:
        engine_for(key, trusted)
    except VibemapError as exc:  # the server answers for the artifact; retried per call
        logger.warning("heavy child could not preload %s: %s", key[0], exc)
    try:
        conn.send(("ready",))
    except OSError:  # the server stopped before its first heavy call
        return
    while True:
        try:
            k, verified, fn, args, kwargs, as_json = conn.recv()
        except (EOFError, OSError):
            return
        try:
            engine = engine_for(k, verified)
            call = getattr(engine, fn) if isinstance(fn, str) else functools.partial(fn, engine)
            result = call(*args, **kwargs)
            reply = ("ok", encode_json(result) if as_json else result)
        except VibemapError as exc:
            reply = ("error", type(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the server as a 500
            logger.exception("heavy call %s failed", getattr(fn, "__qualname__", fn))
            reply = ("crash", RuntimeError, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class _Child:
    """One child process and the server's end of its pipe (one call at a time). Nobody
    waits for it to start: its first call waits for its ("ready",) first."""

    def __init__(self, nice: int, search_threads: int, key: Key,
                 trusted: dict[str, Identity] | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_child_main, args=(theirs, nice, search_threads, key,
                                                             trusted or {}),
                                   name="vibemap-heavy", daemon=True)
        self.process.start()
        theirs.close()
        self.ready = False

    def ask(self, message: tuple) -> tuple:
        """Send one call and wait for its answer (in a worker thread: it blocks)."""
        if not self.ready:
            self.conn.recv()  # its ("ready",): it has imported and preloaded the artifact
            self.ready = True
        self.conn.send(message)
        return self.conn.recv()

    def close(self) -> None:
        self.conn.close()  # the child sees EOF and returns
        if not self.ready:  # still starting, or never asked: nothing of it to finish
            self.process.terminate()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class ProcessPool:
    """``processes`` heavy children at ``nice`` +N; at most ``queue`` more calls wait, one more
    gets 429 ``busy`` at once. Every call is on an engine, as with the thread pool:
    ``run(engine.method, ...)`` or ``run(fn, engine, ...)`` (``fn`` importable); the child makes
    it on its own copy of that engine's artifact. Arguments and answers must pickle."""

    def __init__(self, processes: int, queue: int, nice: int, search_threads: int,
                 what: str) -> None:
        from vibemap.recommender.api.deps import Slots  # deps imports this module

        self.size, self.nice, self.search_threads = processes, nice, search_threads
        self.slots = Slots(processes + queue, what)
        self.children: list[_Child] = []
        self.idle: anyio.abc.ObjectSendStream | None = None
        self._idle_out: anyio.abc.ObjectReceiveStream | None = None
        self.limiter = anyio.CapacityLimiter(processes)

    @property
    def started(self) -> bool:
        return bool(self.children)

    def start(self, engine: Engine) -> None:
        """Start the children, each preloading ``engine``'s artifact, without waiting for
        them: the service answers light requests meanwhile, and a heavy call waits for its
        child to be ready (bench/RESULTS.md, "Serving start-up")."""
        key = engine_key(engine)
        self.children = [_Child(self.nice, self.search_threads, key, engine.artifact.verified)
                         for _ in range(self.size)]
        self.idle, self._idle_out = anyio.create_memory_object_stream(self.size)
        for child in self.children:
            self.idle.send_nowait(child)

    def close(self) -> None:
        for child in self.children:
            child.close()
        self.children = []

    async def _ask(self, message: tuple) -> tuple:
        if self._idle_out is None or self.idle is None:
            raise RuntimeError("the heavy process pool is not started")
        child = await self._idle_out.receive()
        try:
            reply = await anyio.to_thread.run_sync(child.ask, message, limiter=self.limiter)
        except (EOFError, OSError) as exc:  # the child died (killed, out of memory)
            logger.error("heavy child %s died (%s); starting another", child.process.pid, exc)
            child.close()
            self.children.remove(child)
            child = _Child(self.nice, self.search_threads, message[0], message[1])
            self.children.append(child)
            raise Busy("a heavy worker restarted; try again in a few seconds") from None
        finally:
            self.idle.send_nowait(child)
        return reply

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a child."""
        return await self._call(fn, args, kwargs, as_json=False)

    async def run_json(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``fn(*args, **kwargs)`` in a child, its answer already encoded as JSON bytes."""
        return await self._call(fn, args, kwargs, as_json=True)

    async def _call(self, fn: Callable[..., Any], args: tuple, kwargs: dict,
                    as_json: bool) -> Any:
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, Engine):  # a bound method: sent by name, never the engine
            engine, target = owner, fn.__name__
        elif args and isinstance(args[0], Engine):
            engine, target, args = args[0], fn, args[1:]
        else:
            raise TypeError(f"{fn!r}: a heavy call is on an engine")
        with self.slots.take():
            reply = await self._ask((engine_key(engine), engine.artifact.verified, target,
                                     args, kwargs, as_json))
        if reply[0] == "ok":
            return reply[1]
        raise _rebuild(reply[1], reply[2]) if reply[0] == "error" else RuntimeError(reply[2])

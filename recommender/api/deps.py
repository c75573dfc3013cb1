"""Dependencies of the routes: the service state (the loaded engine, its locks and
compute limits), the engine and settings of a request, query-string models, the admin check.

Every request takes the engine reference once, at its start (``get_engine``), so an
artifact reload — which builds the new engine completely and then replaces one reference —
never changes the engine under a request in flight.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import re
import threading
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

from vibemap.recommender.api.middleware import ARTIFACT_STATE
from vibemap.recommender.api.offload import ProcessPool, encode_json
from vibemap.recommender.engine import Engine, set_search_threads
from vibemap.recommender.errors import (
    AdminDisabled,
    ArtifactNotLoaded,
    Busy,
    InvalidQuery,
    Unauthorized,
)
from vibemap.recommender.metrics import ServiceMetrics
from vibemap.recommender.schemas import (
    ARTIFACT_NAME_PATTERN,
    MAX_LIST_ITEMS,
    MAX_TEXT,
    BrowseQuery,
)
from vibemap.recommender.settings import ServiceSettings

M = TypeVar("M", bound=BaseModel)
_NAME_RE = re.compile(ARTIFACT_NAME_PATTERN)
T = TypeVar("T")


def artifact_tag(engine: Engine) -> bytes:
    """``<name>@<created_at>`` of an engine's artifact, percent-encoded to ASCII for a header."""
    created = engine.artifact.manifest.get("created_at") or "unknown"
    return quote(f"{engine.name}@{created}", safe="@:+-._~").encode("ascii")


@dataclass(frozen=True)
class Loaded:
    """One loaded engine and when it was loaded; replaced as a whole on reload."""

    engine: Engine
    path: Path
    loaded_at: datetime
    tag: bytes = b""


class Slots:
    """At most ``size`` holders at once; one more gets 429 ``busy`` at once (never queued).
    Only the event loop takes and releases slots, so a plain counter is enough."""

    def __init__(self, size: int, what: str) -> None:
        self.size, self.what, self.taken = size, what, 0

    @contextmanager
    def take(self) -> Iterator[None]:
        if self.taken >= self.size:
            raise Busy(f"{self.size} {self.what} already running; try again in a few seconds")
        self.taken += 1
        try:
            yield
        finally:
            self.taken -= 1


class ComputePool:
    """Sync engine calls off the event loop: ``threads`` worker threads run them, at most
    ``queue`` more wait; beyond that, 429 ``busy`` at once rather than an ever longer wait."""

    def __init__(self, threads: int, queue: int, search_threads: int, what: str) -> None:
        self.limiter = anyio.CapacityLimiter(threads)
        self.slots = Slots(threads + queue, what)
        self.search_threads = search_threads

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        set_search_threads(self.search_threads)  # OpenMP settings are per thread
        return fn(*args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.slots.take():
            return await anyio.to_thread.run_sync(
                functools.partial(self._call, fn, *args, **kwargs), limiter=self.limiter)

    async def run_json(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``fn(*args, **kwargs)`` encoded as JSON bytes, both in a worker thread."""
        return await self.run(_encoded, fn, *args, **kwargs)

    def close(self) -> None:
        """Nothing to stop: the threads are anyio's (the same interface as ProcessPool)."""


def _encoded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
    return encode_json(fn(*args, **kwargs))


class ServiceState:
    """The app's mutable state: one reference to the current :class:`Loaded`, the reload
    and live K-loop locks, and the pools sync engine calls run in."""

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        self.current: Loaded | None = None
        self.error: str | None = None
        self.generation = 0  # the generation pointer's count this worker serves (workers > 1)
        self.metrics = metrics
        self.reload_lock = asyncio.Lock()
        # one live K-loop at a time per process: it takes every core for seconds
        self.live_lock = threading.Lock()
        # light: single-track lookups and searches; heavy: recommendations, batches,
        # exports; separate, so heavy work queues behind heavy work only. Heavy work runs in
        # niced child processes where settings.heavy_processes > 0 (vibemap serve's default)
        self.light = ComputePool(settings.light_threads, settings.queue_limit,
                                 settings.search_threads, "light requests")
        self.heavy: ComputePool | ProcessPool = (
            ProcessPool(settings.heavy_processes, settings.queue_limit, settings.heavy_nice,
                        settings.search_threads, "heavy requests")
            if settings.heavy_processes else
            ComputePool(settings.heavy_threads, settings.queue_limit, settings.search_threads,
                        "heavy requests"))
        self.exports = Slots(settings.max_exports, "exports (CSV / PCA)")

    def swap(self, engine: Engine, path: Path | None = None) -> Loaded | None:
        previous = self.current
        self.current = Loaded(engine, Path(path or engine.artifact.path), datetime.now(UTC),
                              artifact_tag(engine))
        self.error = None
        self.metrics.artifact_rows.set(engine.n_tracks)
        return previous

    def start_heavy(self) -> None:
        """Start the heavy children once an artifact is loaded (they preload it; nothing
        waits for them); no-op when heavy work runs on threads or the children run already."""
        if isinstance(self.heavy, ProcessPool) and not self.heavy.started and self.current:
            self.heavy.start(self.current.engine)

    def close(self) -> None:
        """Stop what the state started (the heavy children)."""
        self.heavy.close()


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


async def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def _state(request: Request) -> ServiceState:
    # async: FastAPI runs a plain ``def`` dependency on the thread pool (a hop per request)
    return get_state(request)


async def get_engine(request: Request) -> Engine:
    """The engine serving this request (taken once); 503 while none is loaded. Its tag goes
    to the X-Vibemap-Artifact response header, so a client can tell which artifact answered."""
    state: ServiceState = request.app.state.service
    loaded = state.current
    if loaded is None:
        raise ArtifactNotLoaded(state.error or "no artifact is loaded yet")
    setattr(request.state, ARTIFACT_STATE, loaded.tag)
    return loaded.engine


EngineDep = Annotated[Engine, Depends(get_engine)]
StateDep = Annotated[ServiceState, Depends(_state)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


# ------------------------------------------------------------------ query strings
def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


def parse_query(model: type[M], request: Request) -> M:
    """The request's query string validated by ``model`` in one pydantic call: the one way
    every route reads its query. List fields take every repeated key, other fields the
    last; unknown keys are ignored; errors are a 422 located at ``query.<name>``. One
    pydantic call is cheaper than FastAPI's per-parameter path (bench/RESULTS.md)."""
    return validate_query(model, request.query_params)


def validate_query(model: type[M], params: QueryParams) -> M:
    """:func:`parse_query` over parsed query parameters."""
    lists = _list_fields(model)
    values = {k: (params.getlist(k) if k in lists else v) for k, v in params.items()}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if _is_list(f.annotation))


@functools.cache
def query(model: type[M]) -> Any:
    """``Depends`` on ``model`` parsed from the query string (see :func:`parse_query`)."""

    async def dependency(request: Request) -> M:  # no thread hop (see get_state)
        return parse_query(model, request)

    return Depends(dependency)


def query_parameters(model: type[BaseModel]) -> dict:
    """``openapi_extra`` listing ``model``'s fields as query parameters (FastAPI appends
    them to the route's own path parameters)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        param = {"name": name, "in": "query", "required": name in required,
                 "schema": {k: v for k, v in prop.items() if k != "description"}}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return {"parameters": params}


def split_list(values: list[str] | None, name: str = "value") -> list[str]:
    """Comma-separated query values as one list within the JSON bodies' limits."""
    return bounded([part.strip() for v in values or () for part in v.split(",")
                    if part.strip()], name)


def bounded(parts: list[str], name: str) -> list[str]:
    """Query-string lists within the same limits as the JSON bodies: at most MAX_LIST_ITEMS
    items of at most MAX_TEXT characters."""
    if len(parts) > MAX_LIST_ITEMS:
        raise InvalidQuery(f"{name}: at most {MAX_LIST_ITEMS} items, got {len(parts)}")
    for part in parts:
        if len(part) > MAX_TEXT:
            raise InvalidQuery(f"{name}: items must be at most {MAX_TEXT} characters, "
                               f"got one of {len(part)}")
    return parts


def browse_filters(q: BrowseQuery) -> dict[str, Any]:
    """The browse filters of /v1/tracks, /v1/tracks.csv and /v1/validation/pca as the
    engine's keyword arguments."""
    return {"q": q.q, "vibe": q.vibe, "genre": split_list(q.genre, "genre"),
            "year_min": q.year_min, "year_max": q.year_max}


# ------------------------------------------------------------------ admin
def check_admin(settings: ServiceSettings, authorization: str | None) -> None:
    if not settings.admin_token:
        raise AdminDisabled("admin routes are disabled; set VIBEMAP_ADMIN_TOKEN to enable them")
    scheme, _, token = (authorization or "").partition(" ")
    given = token.strip().encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given,
                                                             settings.admin_token.encode("utf-8")):
        raise Unauthorized("missing or wrong bearer token")


async def require_admin(settings: SettingsDep,
                        authorization: Annotated[str | None, Header()] = None) -> None:
    """The bearer token, checked before the body is validated: 403 / 401 come first."""
    check_admin(settings, authorization)


def artifact_dir(settings: ServiceSettings, name: str) -> Path:
    """The artifact directory ``name`` stands for: one safe component under the indexes
    root, whose real path (symlinks resolved) stays inside the root's real path."""
    if not _NAME_RE.fullmatch(name):
        raise InvalidQuery(f"name: not an artifact name ({ARTIFACT_NAME_PATTERN})")
    root = settings.artifacts_root
    path = root / name
    real_root, real = root.resolve(), path.resolve()
    if path.parent != root or real == real_root or not real.is_relative_to(real_root):
        raise InvalidQuery(f"name: {name!r} resolves outside the indexes root (VIBEMAP_INDEXES)")
    return real



"""The app factory: settings and service state on ``app.state``, the lifespan that loads
the artifact, middleware, error handlers and the resource routers.

Limits: request bodies over ``settings.max_body_bytes`` (1 MiB) get 413, URLs over 8 KiB
414, headers over 32 KiB 431; ids, names and labels are at most 200 characters, lists at
most 100 items (seeds and negatives 5); recommendation cost is bounded (schemas).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from vibemap.indexer.errors import VibemapError
from vibemap.recommender.api import generation
from vibemap.recommender.api.deps import ServiceState
from vibemap.recommender.api.errors import install_error_handlers, public_message
from vibemap.recommender.api.fast_lane import SimilarFastLane
from vibemap.recommender.api.middleware import (
    ARTIFACT_HEADER,
    ArtifactHeaderMiddleware,
    BodyLimitMiddleware,
    HeadMiddleware,
    RequestHeadMiddleware,
)
from vibemap.recommender.api.responses import OrjsonResponse
from vibemap.recommender.api.routes import (
    admin,
    recommendations,
    service,
    tracks,
    validation,
    vibes,
)
from vibemap.recommender.engine import Engine, set_search_threads
from vibemap.recommender.metrics import MetricsMiddleware, ServiceMetrics
from vibemap.recommender.settings import ServiceSettings

logger = logging.getLogger(__name__)
ROUTERS = (service.router, tracks.router, recommendations.router, vibes.router,
           validation.router, admin.router)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load ``settings.index_dir`` (with workers: the artifact the generation pointer names)
    unless an engine was given; a failed load leaves the app up, answering 503 (the reason
    without server paths) until POST /admin/reload succeeds. With a generation pointer, follow
    it for the whole life of the worker. Stops the heavy children at shutdown."""
    state: ServiceState = app.state.service
    settings: ServiceSettings = app.state.settings
    pointer = settings.generation_file
    path = settings.index_dir
    trusted = None
    if pointer is not None:
        current = generation.read_pointer(pointer)
        path, state.generation, trusted = current.path, current.generation, current.verified
    if state.current is None:
        await load_into(state, settings, path, trusted)
    state.start_heavy()
    follower = None
    if pointer is not None:
        generation.acknowledge(pointer, state.generation)
        follower = asyncio.create_task(follow_pointer(state, pointer))
    try:
        yield
    finally:
        if follower is not None:
            follower.cancel()
            generation.forget(pointer)
        state.close()


async def load_into(state: ServiceState, settings: ServiceSettings, path: Path,
                    trusted: dict | None = None) -> bool:
    """Load ``path`` (``trusted``: as the generation pointer's writer verified it) and swap
    it in; on an artifact error keep the reason for the 503s."""
    try:
        loaded = await run_in_threadpool(Engine.load, path, trusted=trusted)
    except VibemapError as exc:
        state.error = public_message(str(exc), [settings.artifacts_root])
        logger.error("no artifact loaded: %s", exc)
        return False
    state.swap(loaded, path)
    logger.info("loaded artifact %s (%d tracks)", loaded.name, loaded.n_tracks)
    return True


async def follow_pointer(state: ServiceState, pointer: Path) -> None:
    """Swap in the artifact the generation pointer names whenever its generation passes this
    worker's (another worker took a reload), then acknowledge it (see ``generation``)."""
    seen = generation.stamp(pointer)
    while True:
        await asyncio.sleep(generation.POLL_S)
        now = generation.stamp(pointer)
        if now is None or now == seen:
            continue
        seen = now
        try:
            target = generation.read_pointer(pointer)
        except (OSError, ValueError, KeyError) as exc:
            logger.error("unreadable generation pointer: %s", exc)
            continue
        async with state.reload_lock:
            if target.generation <= state.generation:
                continue
            try:
                engine = await run_in_threadpool(Engine.load, target.path,
                                                 trusted=target.verified)
            except VibemapError as exc:  # validated by the reloading worker: rare
                logger.error("generation %d: %s", target.generation, exc)
                continue
            state.swap(engine, target.path)
            state.generation = target.generation
        state.start_heavy()
        generation.acknowledge(pointer, target.generation)
        logger.info("generation %d: now serving %s", target.generation, engine.name)


def create_app(settings: ServiceSettings | None = None, *, engine: Engine | None = None
               ) -> FastAPI:
    """The FastAPI app. Without ``engine`` the lifespan loads ``settings.index_dir``; a
    failed load leaves the app up, answering 503 until POST /admin/reload succeeds."""
    settings = settings or ServiceSettings.from_env()
    set_search_threads(settings.search_threads)
    metrics = ServiceMetrics()
    state = ServiceState(settings, metrics)
    if engine is not None:
        state.swap(engine)
    app = FastAPI(
        title="vibemap",
        summary="Musical personalities (vibes) and next-best-track recommendations.",
        description="JSON API over a vibemap artifact. Errors are {\"detail\", \"code\"}: "
                    "404 unknown track or vibe, 422 invalid parameters, 413 request body over "
                    f"{settings.max_body_bytes} bytes, 429 too many heavy requests at once, "
                    "503 no artifact loaded. Every answer from an artifact names it in the "
                    f"{ARTIFACT_HEADER} header (<name>@<created_at>). HEAD works wherever "
                    "GET does." + recommendations.RECOMMEND_NOTES,
        version="1",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.state.service = state
    app.state.settings = settings
    install_error_handlers(app)
    # innermost first: the metrics count the 413s; the CORS headers go on every answer
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ArtifactHeaderMiddleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestHeadMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SimilarFastLane, metrics=metrics)  # outermost: the plain /similar
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "HEAD", "POST"], allow_headers=["*"])
    for router in ROUTERS:
        app.include_router(router)
    return app

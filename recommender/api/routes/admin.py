"""Admin routes (bearer token): reload an artifact by name."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from vibemap.indexer.errors import VibemapError
from vibemap.recommender.api import generation
from vibemap.recommender.api.deps import SettingsDep, StateDep, artifact_dir, require_admin
from vibemap.recommender.api.middleware import ARTIFACT_STATE
from vibemap.recommender.engine import Engine
from vibemap.recommender.schemas import ErrorBody, ReloadRequest, ReloadResponse

logger = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])


@router.post("/admin/reload", response_model=ReloadResponse,
             dependencies=[Depends(require_admin)],
             responses={401: {"model": ErrorBody, "description": "missing or wrong token"},
                        403: {"model": ErrorBody, "description": "no admin token configured"},
                        413: {"model": ErrorBody, "description": "request body too large"},
                        422: {"model": ErrorBody,
                              "description": "not an artifact name, outside the indexes "
                                             "root, or artifact unusable"}})
async def reload_artifact(request: Request, state: StateDep, settings: SettingsDep,
                          body: ReloadRequest | None = None) -> Any:
    """Load an artifact by name (default: the one served) and swap it in atomically;
    with several workers, answer once every worker serves it; admin only."""
    current = state.current
    path = artifact_dir(settings, body.name) if body and body.name else (
        current.path if current else settings.index_dir)
    pointer = settings.generation_file
    async with state.reload_lock:
        try:
            new = await run_in_threadpool(Engine.load, path)
        except VibemapError:
            state.metrics.reloads.labels("failed").inc()
            raise
        previous = state.swap(new, path)
        if pointer is not None:  # the other workers follow the pointer (generation.py)
            state.generation = generation.advance(pointer, path,
                                                  new.artifact.verified).generation
            generation.acknowledge(pointer, state.generation)
    state.start_heavy()  # when the service started without an artifact
    if pointer is not None:
        await generation.wait_for_workers(pointer, state.generation, settings.workers)
    state.metrics.reloads.labels("ok").inc()
    logger.info("reloaded artifact %s from %s", new.name, path)
    loaded = state.current
    if loaded is not None:
        setattr(request.state, ARTIFACT_STATE, loaded.tag)
    return {"status": "reloaded", "artifact": new.name, "rows": new.n_tracks,
            "loaded_at": loaded.loaded_at if loaded else datetime.now(UTC),
            "previous": previous.engine.name if previous else None}

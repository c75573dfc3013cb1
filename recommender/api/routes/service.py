"""Service routes: health, Prometheus metrics, and which artifact is served."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from vibemap.recommender.api import generation
from vibemap.recommender.api.deps import EngineDep, SettingsDep, StateDep
from vibemap.recommender.api.middleware import ARTIFACT_STATE
from vibemap.recommender.api.responses import ERRORS, OrjsonResponse
from vibemap.recommender.metrics import CONTENT_TYPE
from vibemap.recommender.schemas import ArtifactSummary, Health

router = APIRouter()


@router.get("/health", response_model=Health, tags=["service"], response_model_exclude_none=True,
            responses={503: {"model": Health, "description": "no artifact loaded"}})
async def health(request: Request, state: StateDep, settings: SettingsDep) -> Any:
    """Service status and which artifact is loaded."""
    loaded = state.current
    if loaded is None:
        body = {"status": "unavailable", "artifact": None, "rows": None, "loaded_at": None,
                "detail": state.error or "no artifact is loaded yet",
                "code": "artifact_not_loaded"}
        return OrjsonResponse(body, status_code=503)
    setattr(request.state, ARTIFACT_STATE, loaded.tag)
    pointer = settings.generation_file
    return {"status": "ok", "artifact": loaded.engine.name, "rows": loaded.engine.n_tracks,
            "loaded_at": loaded.loaded_at,
            "workers": generation.acknowledged(pointer, state.generation) if pointer else None}


@router.get("/metrics", tags=["service"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics(state: StateDep) -> Response:
    """Prometheus metrics: request counts and latency histograms by route template."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/artifact", response_model=ArtifactSummary, tags=["artifact"], responses=ERRORS)
async def artifact(engine: EngineDep) -> Any:
    """Which artifact is served: name, source (synthetic or not), rows, features, K, scaler."""
    return engine.artifact_summary()

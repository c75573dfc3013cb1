"""Vibe routes: every vibe, and one by id, name or slug."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from vibemap.recommender.api.deps import EngineDep, StateDep
from vibemap.recommender.api.responses import BUSY, ERRORS
from vibemap.recommender.schemas import MAX_TEXT, Vibe, VibesResponse

router = APIRouter(tags=["vibes"])


@router.get("/v1/vibes", response_model=VibesResponse, responses={**ERRORS, **BUSY})
async def list_vibes(engine: EngineDep, state: StateDep) -> Any:
    """Every vibe: name, size, centroid (original units and z-scores), profile, genres."""
    return {"features": list(engine.features), "vibes": await state.light.run(engine.vibes)}


@router.get("/v1/vibes/{vibe:path}", response_model=Vibe, responses={**ERRORS, **BUSY})
async def get_vibe(engine: EngineDep, state: StateDep,
                   vibe: Annotated[str, PathParam(max_length=MAX_TEXT,
                                                  description="vibe id, name or slug")]) -> Any:
    """One vibe, by id, name or slug (case-insensitive)."""
    return await state.light.run(engine.vibe, vibe)

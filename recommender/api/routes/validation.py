"""Validation routes: the artifact's metrics, the PCA sample, outliers, the live K-loop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from vibemap.recommender import insights
from vibemap.recommender.api.deps import (
    EngineDep,
    StateDep,
    browse_filters,
    query,
    query_parameters,
)
from vibemap.recommender.api.offload import json_body
from vibemap.recommender.api.responses import BODY_ERRORS, BUSY, ERRORS
from vibemap.recommender.schemas import ErrorBody, LiveKLoopRequest, OutliersQuery, PcaQuery

router = APIRouter(tags=["artifact"])


@router.get("/v1/validation", responses=ERRORS, response_model=dict[str, Any])
async def validation(engine: EngineDep) -> Any:
    """Validation metrics of the loaded artifact (metrics.json)."""
    return engine.validation()


@router.get("/v1/validation/pca", responses={**ERRORS, **BUSY}, response_model=dict[str, Any],
            openapi_extra=query_parameters(PcaQuery))
async def validation_pca(engine: EngineDep, state: StateDep,
                         q: Annotated[PcaQuery, query(PcaQuery)]) -> Any:
    """The PCA sample (stratified by vibe) with each point's track, filtered like /v1/tracks;
    at most ``max_exports`` exports at once, else 429."""
    f = browse_filters(q)
    with state.exports.take():
        return json_body(await state.heavy.run_json(
            insights.pca_points, engine, f["q"], f["vibe"], f["genre"], f["year_min"],
            f["year_max"], q.limit))


@router.get("/v1/validation/outliers", responses={**ERRORS, **BUSY},
            response_model=dict[str, Any], openapi_extra=query_parameters(OutliersQuery))
async def validation_outliers(engine: EngineDep, state: StateDep,
                              q: Annotated[OutliersQuery, query(OutliersQuery)]) -> Any:
    """DBSCAN outlier summary and the most atypical tracks with their metadata."""
    return await state.light.run(insights.outlier_tracks, engine, q.limit)


@router.post("/v1/validation/kloop",
             responses={**BODY_ERRORS, 429: {"model": ErrorBody,
                                             "description": "a live K-loop is running"}},
             response_model=dict[str, Any])
async def validation_kloop(engine: EngineDep, state: StateDep, body: LiveKLoopRequest) -> Any:
    """Run the K-loop now on a seeded sample (exact metrics; one run at a time, else 429)."""
    # on a thread (the state's lock keeps it to one run): sklearn computes without the GIL
    return await state.light.run(insights.live_k_loop, engine, state.live_lock,
                                 body.sample_size, body.k_min, body.k_max, body.seed)

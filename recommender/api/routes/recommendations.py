"""Recommendation routes: the GET and POST forms and the batch. All run on the heavy
pool; their cost is bounded at the edge (schemas: MAX_DIVERSE_DEPTH, MAX_BATCH_COST)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from vibemap.indexer.errors import VibemapError
from vibemap.recommender.api.deps import (
    EngineDep,
    StateDep,
    bounded,
    query,
    query_parameters,
    split_list,
)
from vibemap.recommender.api.errors import VALIDATION_CODE, error_status, validation_detail
from vibemap.recommender.api.offload import json_body
from vibemap.recommender.api.responses import BODY_ERRORS, BUSY, ERRORS
from vibemap.recommender.engine import COMBINATION_RULE, ERA_RULE, Engine
from vibemap.recommender.errors import InvalidQuery
from vibemap.recommender.schemas import (
    DIVERSITY_COST_FACTOR,
    ITEM_BASE_COST,
    MAX_BATCH_COST,
    MAX_DIVERSE_DEPTH,
    BatchRequest,
    BatchResponse,
    RecommendQuery,
    RecommendRequest,
    RecommendResponse,
)

router = APIRouter(tags=["recommendations"])
RECOMMEND_NOTES = (
    "\n\n" + COMBINATION_RULE + "\n\nThe default scope for seeds is every vibe ('any'); "
    "'same' needs all seeds in one vibe. With diversity > 0, results are re-ranked by MMR "
    "over a pool of max(300, 2 * (offset + limit)) candidates and `score` stays the "
    f"similarity to the query; offset + limit is then at most {MAX_DIVERSE_DEPTH}. Feature "
    "parameters: target_<feature>, min_<feature>, max_<feature> for each feature listed by "
    "GET /v1/artifact (original units).\n\n" + ERA_RULE
)
FEATURE_PREFIXES = ("target_", "min_", "max_")


def feature_params(request: Request) -> dict[str, object]:
    """The query string's feature parameters; any other unknown key is refused."""
    known = RecommendQuery.model_fields
    params: dict[str, object] = {}
    for key, value in request.query_params.multi_items():
        if key in known:
            continue
        if not key.startswith(FEATURE_PREFIXES):
            raise InvalidQuery(f"unknown query parameter {key!r}")
        if key in params:
            raise InvalidQuery(f"query parameter {key!r} given more than once")
        params[key] = value
    return params


@router.get("/v1/recommendations", response_model=RecommendResponse,
            responses={**ERRORS, **BUSY}, openapi_extra=query_parameters(RecommendQuery),
            description="Next best tracks from Spotify-style query parameters."
            + RECOMMEND_NOTES)
async def recommend_get(request: Request, engine: EngineDep, state: StateDep,
                        q: Annotated[RecommendQuery, query(RecommendQuery)]) -> Any:
    """Next best tracks from Spotify-style query parameters."""
    features = feature_params(request)
    return json_body(await state.heavy.run_json(
        engine.recommend, split_list(q.seed_tracks, "seed_tracks"),
        split_list(q.negative_tracks, "negative_tracks"), vibe=q.vibe,
        genres=split_list(q.genres, "genres"), min_popularity=q.min_popularity,
        max_popularity=q.max_popularity,
        exclude_artists=bounded([a for a in q.exclude_artists or () if a.strip()],
                                "exclude_artists"),
        max_per_artist=q.max_per_artist, diversity=q.diversity, limit=q.limit,
        offset=q.offset, dedupe_versions=q.dedupe_versions, target_year=q.target_year,
        min_year=q.min_year, max_year=q.max_year, audio_only=q.audio_only, **features))


@router.post("/v1/recommendations", response_model=RecommendResponse,
             responses={**BODY_ERRORS, **BUSY},
             description="Next best tracks from a JSON body (same fields as the GET form)."
             + RECOMMEND_NOTES)
async def recommend_post(engine: EngineDep, state: StateDep, body: RecommendRequest) -> Any:
    """Next best tracks from a JSON body (same fields as the GET form)."""
    return json_body(await state.heavy.run_json(engine.recommend, **body.engine_kwargs()))


def validate_batch(items: list[Any]) -> list[RecommendRequest | dict]:
    """Each item as a request, or its 422 item; 422 for the whole batch over the budget."""
    parsed: list[RecommendRequest | dict] = []
    for i, item in enumerate(items):
        try:
            parsed.append(RecommendRequest.model_validate(item))
        except ValidationError as exc:
            error = {"detail": validation_detail(list(exc.errors())), "code": VALIDATION_CODE}
            parsed.append({"index": i, "status": 422, "result": None, "error": error})
    cost = sum(p.cost() for p in parsed if isinstance(p, RecommendRequest))
    if cost > MAX_BATCH_COST:
        raise InvalidQuery(f"batch cost {cost} is over MAX_BATCH_COST={MAX_BATCH_COST} (per "
                           f"item: {ITEM_BASE_COST} + offset + limit, times "
                           f"{DIVERSITY_COST_FACTOR} with diversity > 0); split the batch")
    return parsed


def run_batch(engine: Engine, parsed: list[RecommendRequest | dict]) -> dict:
    """Answer each validated item in turn; an item's error is its own. Items have every
    BatchItem key: the answer is encoded as is, not through the response model."""
    results = []
    for i, request in enumerate(parsed):
        if isinstance(request, dict):
            results.append(request)
            continue
        try:
            result = engine.recommend(**request.engine_kwargs())
            results.append({"index": i, "status": 200, "result": result, "error": None})
        except VibemapError as exc:
            status, code = error_status(exc)
            results.append({"index": i, "status": status, "result": None,
                            "error": {"detail": str(exc), "code": code}})
    return {"results": results}


@router.post("/v1/recommendations/batch", response_model=BatchResponse,
             responses={**BODY_ERRORS, **BUSY})
async def recommend_batch(engine: EngineDep, state: StateDep, body: BatchRequest) -> Any:
    """Up to 100 recommendation requests within a cost budget; each item reports its own
    status or error."""
    return json_body(await state.heavy.run_json(run_batch, engine,
                                                validate_batch(body.requests)))

"""Track routes: search, one track, similar tracks, the CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam

from vibemap.recommender import insights
from vibemap.recommender.api.deps import (
    EngineDep,
    StateDep,
    browse_filters,
    get_state,
    parse_query,
    query,
    query_parameters,
)
from vibemap.recommender.api.direct import DirectRoute
from vibemap.recommender.api.responses import BUSY, ERRORS, fast_json
from vibemap.recommender.schemas import (
    MAX_TEXT,
    BrowseQuery,
    SearchResponse,
    SimilarQuery,
    SimilarResponse,
    TrackDetail,
    TrackSearchQuery,
)

router = APIRouter(tags=["tracks"])
# A /similar request this shallow, without a per-artist cap, is cheap and runs on the event
# loop: a thread hop costs more than the work (bench/RESULTS.md, "Measured design choices").
INLINE_MAX_DEPTH = 100
TrackId = Annotated[str, PathParam(max_length=MAX_TEXT)]


@router.get("/v1/tracks", response_model=SearchResponse, responses={**ERRORS, **BUSY},
            openapi_extra=query_parameters(TrackSearchQuery))
async def search_tracks(engine: EngineDep, state: StateDep,
                        q: Annotated[TrackSearchQuery, query(TrackSearchQuery)]) -> Any:
    """Search tracks by name or artist (accent-insensitive; exact, prefix, then substring)."""
    f = browse_filters(q)
    return fast_json(await state.light.run(
        engine.search_tracks, f["q"], vibe=f["vibe"], genre=f["genre"], limit=q.limit,
        offset=q.offset, year_min=f["year_min"], year_max=f["year_max"]))


@router.get("/v1/tracks.csv", responses={**ERRORS, **BUSY}, response_class=Response,
            openapi_extra=query_parameters(BrowseQuery))
async def tracks_csv(engine: EngineDep, state: StateDep,
                     q: Annotated[BrowseQuery, query(BrowseQuery)]) -> Response:
    """Every track matching the filters (text, vibe, genre, years) as CSV with features;
    at most ``max_exports`` at once, else 429."""
    f = browse_filters(q)
    with state.exports.take():
        text = await state.heavy.run(insights.tracks_csv, engine, f["q"], f["vibe"],
                                     f["genre"], f["year_min"], f["year_max"])
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="tracks.csv"'})


# declared before /v1/tracks/{track_id:path} (track ids may hold '/'), which would match too
async def similar_tracks(request: Request, engine: EngineDep, track_id: TrackId) -> Any:
    """Tracks most similar to one track, within its vibe by default."""
    # The hot route (a DirectRoute: no dependency solving per request). The query is
    # parsed here and the state read only when needed: FastAPI would run a sync dependency
    # through the thread pool, and a thread hop costs more than the search.
    q = parse_query(SimilarQuery, request)
    if runs_inline(q):
        return fast_json(engine.similar(track_id, **similar_args(q)))
    return fast_json(await get_state(request).light.run(engine.similar, track_id,
                                                        **similar_args(q)))


def similar_args(q: SimilarQuery) -> dict:
    """``Engine.similar``'s keyword arguments from the parsed query."""
    return {"limit": q.limit, "scope": q.scope, "max_per_artist": q.max_per_artist,
            "offset": q.offset, "dedupe_versions": q.dedupe_versions, "audio_only": q.audio_only}


def runs_inline(q: SimilarQuery) -> bool:
    """Whether the search is cheap enough for the event loop (audio_only scores the scope
    by brute force, a per-artist cap may widen the pool: those go off the loop)."""
    return q.offset + q.limit <= INLINE_MAX_DEPTH and q.max_per_artist is None \
        and not q.audio_only


router.add_api_route("/v1/tracks/{track_id:path}/similar", similar_tracks, methods=["GET"],
                     response_model=SimilarResponse, responses={**ERRORS, **BUSY},
                     openapi_extra=query_parameters(SimilarQuery),
                     route_class_override=DirectRoute)


@router.get("/v1/tracks/{track_id:path}", response_model=TrackDetail,
            responses={**ERRORS, **BUSY})
async def get_track(engine: EngineDep, track_id: TrackId) -> Any:
    """One track: metadata, vibe and audio features (a lookup: on the event loop)."""
    return fast_json(engine.track(track_id))

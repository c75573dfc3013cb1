"""The HTTP API: an app factory over the engine. Routes only call the engine; domain
errors become HTTP statuses in one place (``ERROR_MAP`` and the handlers below).

Every request takes the engine reference once, at its start (the ``get_engine``
dependency), so an artifact reload — which builds the new engine completely and then
replaces one reference — never changes the engine under a request in flight. The
response says which artifact answered in the ``X-Vibemap-Artifact`` header
(``<name>@<created_at>``), taken from that same reference.

Limits: request bodies over ``settings.max_body_bytes`` (1 MiB) get 413; ids, names and
labels are at most 200 characters, lists at most 100 items (seeds and negatives 5).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from vibemap.indexer.errors import ArtifactError, VibemapError
from vibemap.recommender import insights
from vibemap.recommender.engine import (
    COMBINATION_RULE,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_SEARCH_LIMIT,
    Engine,
    set_search_threads,
)
from vibemap.recommender.errors import (
    AdminDisabled,
    ArtifactNotLoaded,
    Busy,
    InvalidQuery,
    TrackNotFound,
    Unauthorized,
    VibeNotFound,
)
from vibemap.recommender.metrics import CONTENT_TYPE, MetricsMiddleware, ServiceMetrics
from vibemap.recommender.schemas import (
    ARTIFACT_NAME_PATTERN,
    MAX_LIST_ITEMS,
    MAX_TEXT,
    ArtifactSummary,
    BatchRequest,
    BatchResponse,
    ErrorBody,
    Health,
    LiveKLoopRequest,
    RecommendRequest,
    RecommendResponse,
    ReloadRequest,
    ReloadResponse,
    SearchResponse,
    SimilarQuery,
    SimilarResponse,
    TrackDetail,
    Vibe,
    VibesResponse,
)
from vibemap.recommender.settings import ServiceSettings

logger = logging.getLogger(__name__)


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson (FastAPI's own ORJSONResponse is deprecated upstream)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


# The one mapping from domain errors to HTTP: (status, code). Looked up along the MRO.
ERROR_MAP: dict[type[Exception], tuple[int, str]] = {
    TrackNotFound: (404, "track_not_found"),
    VibeNotFound: (404, "vibe_not_found"),
    InvalidQuery: (422, "invalid_query"),
    ArtifactNotLoaded: (503, "artifact_not_loaded"),
    Unauthorized: (401, "unauthorized"),
    AdminDisabled: (403, "admin_disabled"),
    Busy: (429, "busy"),
    ArtifactError: (422, "artifact_error"),  # only reachable through /admin/reload
    VibemapError: (422, "invalid_request"),
}
VALIDATION_CODE = "invalid_query"
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
              413: "payload_too_large"}
ARTIFACT_HEADER = "X-Vibemap-Artifact"


def fast_json(content: Any) -> OrjsonResponse:
    """Hot routes return the engine's plain-JSON dict as is: FastAPI then skips re-validating
    it against the response model (the model still documents it in OpenAPI, and the
    schemathesis tests check every response against it), which costs more than the search."""
    return OrjsonResponse(content)


M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], request: Request) -> M:
    """The request's query string validated by ``model`` in one pydantic call.

    For the hottest route: FastAPI's per-parameter path (one field lookup, validation and
    error merge per ``Query``) made a /similar request ~10% dearer (552 vs 498 us in
    process). Same semantics: the last of repeated keys wins, unknown keys are ignored,
    errors are a 422 located at ``query.<name>``. Document the route with
    ``openapi_extra=query_parameters(model)``."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


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


_ARTIFACT_STATE = "vibemap_artifact"  # key in the ASGI scope's state: the engine's tag


def error_status(exc: Exception) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_MAP:
            return ERROR_MAP[cls]
    return 500, "internal_error"


def validation_detail(errors: list[dict]) -> str:
    """Pydantic / FastAPI validation errors as one line: 'limit: Input should be ...'."""
    parts = []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        if loc and loc[0] in ("query", "body", "path", "header"):
            loc = loc[1:]
        msg = str(err.get("msg", "invalid value"))
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts) or "invalid request"


def _error_response(status: int, code: str, detail: str) -> OrjsonResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return OrjsonResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"detail": ..., "code": ...}; client input never gives a 500."""

    @app.exception_handler(VibemapError)
    async def _domain(request: Request, exc: VibemapError) -> Response:
        status, code = error_status(exc)
        return _error_response(status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(422, VALIDATION_CODE, validation_detail(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8):
            # invalid input like any malformed JSON body, so the same 422
            return _error_response(422, VALIDATION_CODE,
                                   "body: not valid JSON (it must be UTF-8 encoded JSON)")
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return _error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(500, "internal_error", "internal server error")


class BodyLimitMiddleware:
    """413 ``payload_too_large`` for a request body over ``max_bytes``: at once when
    Content-Length says so (the body is never read), else as soon as a streamed body
    passes the limit. Pure ASGI: nothing is buffered here."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break  # the server rejects a malformed length itself
                if declared > self.max_bytes:
                    response = _error_response(413, "payload_too_large", self._detail())
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException from reading the body as is
                    raise StarletteHTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)


class ArtifactHeaderMiddleware:
    """Adds ``X-Vibemap-Artifact: <name>@<created_at>`` of the engine the request used
    (recorded by ``get_engine`` in the request's state) to its response, errors included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_artifact(message) -> None:
            if message["type"] == "http.response.start":
                tag = state.get(_ARTIFACT_STATE)
                if tag:
                    headers = [*message.get("headers", ()),
                               (ARTIFACT_HEADER.lower().encode("latin-1"), tag)]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_artifact)


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


class ServiceState:
    """The app's mutable state: one reference to the current :class:`Loaded`."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.current: Loaded | None = None
        self.error: str | None = None
        self.metrics = metrics
        self.reload_lock = asyncio.Lock()

    def swap(self, engine: Engine, path: Path | None = None) -> Loaded | None:
        previous = self.current
        self.current = Loaded(engine, Path(path or engine.artifact.path), datetime.now(UTC),
                              artifact_tag(engine))
        self.error = None
        self.metrics.artifact_rows.set(engine.n_tracks)
        return previous


async def get_engine(request: Request) -> Engine:
    """The engine serving this request (taken once); 503 while none is loaded. Its tag goes
    to the X-Vibemap-Artifact response header, so a client can tell which artifact answered."""
    state: ServiceState = request.app.state.service
    loaded = state.current
    if loaded is None:
        raise ArtifactNotLoaded(state.error or "no artifact is loaded yet")
    setattr(request.state, _ARTIFACT_STATE, loaded.tag)
    return loaded.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


class BrowseFilters:
    """The browse filters shared by /v1/tracks, /v1/tracks.csv and /v1/validation/pca."""

    def __init__(
        self,
        q: Annotated[str | None, Query(max_length=MAX_TEXT, description="name or artist text")
                     ] = None,
        vibe: Annotated[str | None, Query(max_length=MAX_TEXT,
                                          description="vibe id, name or slug")] = None,
        genre: Annotated[list[str] | None, Query(description="genre label(s), comma-separated")
                         ] = None,
        year_min: Annotated[int | None, Query(ge=0, le=3000, description="earliest release year")
                            ] = None,
        year_max: Annotated[int | None, Query(ge=0, le=3000, description="latest release year")
                            ] = None,
    ) -> None:
        self.q, self.vibe, self.year_min, self.year_max = q, vibe, year_min, year_max
        self.genres = _split(genre, "genre")


FiltersDep = Annotated[BrowseFilters, Depends()]
ERRORS = {
    404: {"model": ErrorBody, "description": "unknown track or vibe"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
    503: {"model": ErrorBody, "description": "no artifact loaded"},
}
BODY_ERRORS = {**ERRORS, 413: {"model": ErrorBody, "description": "request body too large"}}
RECOMMEND_NOTES = (
    "\n\n" + COMBINATION_RULE + "\n\nThe default scope for seeds is every vibe ('any'); "
    "'same' needs all seeds in one vibe. With diversity > 0, results are re-ranked by MMR "
    "over a pool of max(300, 2 * (offset + limit)) candidates and `score` stays the "
    "similarity to the query. Feature parameters: target_<feature>, min_<feature>, "
    "max_<feature> for each feature listed by GET /v1/artifact (original units)."
)
GET_LIST_PARAMS = ("seed_tracks", "negative_tracks", "genres", "exclude_artists")
GET_PARAMS = frozenset((*GET_LIST_PARAMS, "vibe", "min_popularity", "max_popularity",
                        "max_per_artist", "diversity", "limit", "offset"))


def _split(values: list[str] | None, name: str = "value") -> list[str]:
    return _bounded([part.strip() for v in values or () for part in v.split(",")
                     if part.strip()], name)


def _bounded(parts: list[str], name: str) -> list[str]:
    """Query-string lists within the same limits as the JSON bodies: at most MAX_LIST_ITEMS
    items of at most MAX_TEXT characters."""
    if len(parts) > MAX_LIST_ITEMS:
        raise InvalidQuery(f"{name}: at most {MAX_LIST_ITEMS} items, got {len(parts)}")
    for part in parts:
        if len(part) > MAX_TEXT:
            raise InvalidQuery(f"{name}: items must be at most {MAX_TEXT} characters, "
                               f"got one of {len(part)}")
    return parts


_NAME_RE = re.compile(ARTIFACT_NAME_PATTERN)


def _artifact_dir(settings: ServiceSettings, name: str) -> Path:
    """The artifact directory ``name`` stands for: one safe component under the indexes root."""
    if not _NAME_RE.fullmatch(name):
        raise InvalidQuery(f"name: not an artifact name ({ARTIFACT_NAME_PATTERN})")
    root = settings.artifacts_root
    path = root / name
    if path.parent != root:  # the pattern already rules this out; belt and braces
        raise InvalidQuery("name: must name a directory directly under the indexes root")
    return path


def _run_batch(engine: Engine, items: list[Any], threads: int) -> dict:
    set_search_threads(threads)  # a worker thread: OpenMP settings are per thread
    results = []
    for i, item in enumerate(items):
        try:
            request = RecommendRequest.model_validate(item)
            result = engine.recommend(**request.engine_kwargs())
            results.append({"index": i, "status": 200, "result": result})
        except ValidationError as exc:
            error = {"detail": validation_detail(list(exc.errors())), "code": VALIDATION_CODE}
            results.append({"index": i, "status": 422, "error": error})
        except VibemapError as exc:
            status, code = error_status(exc)
            results.append({"index": i, "status": status,
                            "error": {"detail": str(exc), "code": code}})
    return {"results": results}


def _check_admin(settings: ServiceSettings, authorization: str | None) -> None:
    if not settings.admin_token:
        raise AdminDisabled("admin routes are disabled; set VIBEMAP_ADMIN_TOKEN to enable them")
    scheme, _, token = (authorization or "").partition(" ")
    given = token.strip().encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given,
                                                             settings.admin_token.encode("utf-8")):
        raise Unauthorized("missing or wrong bearer token")


def create_app(settings: ServiceSettings | None = None, *, engine: Engine | None = None
               ) -> FastAPI:
    """The FastAPI app. Without ``engine`` the lifespan loads ``settings.index_dir``; a
    failed load leaves the app up, answering 503 until POST /admin/reload succeeds."""
    settings = settings or ServiceSettings.from_env()
    set_search_threads(settings.search_threads)
    metrics = ServiceMetrics()
    state = ServiceState(metrics)
    if engine is not None:
        state.swap(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.current is None:
            try:
                loaded = await run_in_threadpool(Engine.load, settings.index_dir)
            except VibemapError as exc:
                state.error = str(exc)
                logger.error("no artifact loaded: %s", exc)
            else:
                state.swap(loaded, settings.index_dir)
                logger.info("loaded artifact %s (%d tracks)", loaded.name, loaded.n_tracks)
        yield

    app = FastAPI(
        title="vibemap",
        summary="Musical personalities (vibes) and next-best-track recommendations.",
        description="JSON API over a vibemap artifact. Errors are {\"detail\", \"code\"}: "
                    "404 unknown track or vibe, 422 invalid parameters, 413 request body over "
                    f"{settings.max_body_bytes} bytes, 503 no artifact loaded. Every answer "
                    f"from an artifact names it in the {ARTIFACT_HEADER} header "
                    "(<name>@<created_at>)."
                    + RECOMMEND_NOTES,
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
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])

    # ------------------------------------------------------------- service
    @app.get("/health", response_model=Health, tags=["service"], response_model_exclude_none=True,
             responses={503: {"model": Health, "description": "no artifact loaded"}})
    async def health(request: Request) -> Any:
        """Service status and which artifact is loaded."""
        loaded = state.current
        if loaded is None:
            body = {"status": "unavailable", "artifact": None, "rows": None, "loaded_at": None,
                    "detail": state.error or "no artifact is loaded yet",
                    "code": "artifact_not_loaded"}
            return OrjsonResponse(body, status_code=503)
        setattr(request.state, _ARTIFACT_STATE, loaded.tag)
        return {"status": "ok", "artifact": loaded.engine.name, "rows": loaded.engine.n_tracks,
                "loaded_at": loaded.loaded_at}

    @app.get("/metrics", tags=["service"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def prometheus_metrics() -> Response:
        """Prometheus metrics: request counts and latency histograms by route template."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    # -------------------------------------------------------------- tracks
    @app.get("/v1/tracks", response_model=SearchResponse, tags=["tracks"], responses=ERRORS)
    async def search_tracks(
        engine: EngineDep,
        f: FiltersDep,
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_LIMIT)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Any:
        """Search tracks by name or artist (accent-insensitive; exact, prefix, then substring)."""
        return fast_json(engine.search_tracks(f.q, vibe=f.vibe, genre=f.genres, limit=limit,
                                              offset=offset, year_min=f.year_min,
                                              year_max=f.year_max))

    # declared before /v1/tracks/{track_id:path} (track ids may hold '/'), which would match too
    @app.get("/v1/tracks/{track_id:path}/similar", response_model=SimilarResponse, tags=["tracks"],
             responses=ERRORS, openapi_extra=query_parameters(SimilarQuery))
    async def similar_tracks(
        request: Request,
        engine: EngineDep,
        track_id: Annotated[str, PathParam(max_length=MAX_TEXT)],
    ) -> Any:
        """Tracks most similar to one track, within its vibe by default."""
        q = parse_query(SimilarQuery, request)
        return fast_json(engine.similar(track_id, limit=q.limit, scope=q.scope,
                                        max_per_artist=q.max_per_artist, offset=q.offset))

    @app.get("/v1/tracks/{track_id:path}", response_model=TrackDetail, tags=["tracks"],
             responses=ERRORS)
    async def get_track(engine: EngineDep,
                        track_id: Annotated[str, PathParam(max_length=MAX_TEXT)]) -> Any:
        """One track: metadata, vibe and audio features."""
        return fast_json(engine.track(track_id))

    # ----------------------------------------------------- recommendations
    @app.get("/v1/recommendations", response_model=RecommendResponse,
             tags=["recommendations"], responses=ERRORS,
             description="Next best tracks from Spotify-style query parameters." + RECOMMEND_NOTES)
    async def recommend_get(
        request: Request,
        engine: EngineDep,
        seed_tracks: Annotated[list[str] | None, Query(
            description="up to 5 track ids, comma-separated")] = None,
        negative_tracks: Annotated[list[str] | None, Query(
            description="up to 5 track ids to steer away from")] = None,
        vibe: Annotated[str | None, Query(max_length=MAX_TEXT,
                                          description="'any' (default), 'same', or a vibe")
                        ] = None,
        genres: Annotated[list[str] | None, Query(description="genre labels, comma-separated")
                          ] = None,
        min_popularity: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        max_popularity: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        exclude_artists: Annotated[list[str] | None, Query(
            description="an artist name; repeat the parameter for several (names may hold "
                        "commas, so they are not split)")] = None,
        max_per_artist: Annotated[int | None, Query(ge=1)] = None,
        diversity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Any:
        """Next best tracks from Spotify-style query parameters."""
        feature_params: dict[str, object] = {}
        for key, value in request.query_params.multi_items():
            if key in GET_PARAMS:
                continue
            if not key.startswith(("target_", "min_", "max_")):
                raise InvalidQuery(f"unknown query parameter {key!r}")
            if key in feature_params:
                raise InvalidQuery(f"query parameter {key!r} given more than once")
            feature_params[key] = value
        return fast_json(engine.recommend(
            _split(seed_tracks, "seed_tracks"), _split(negative_tracks, "negative_tracks"),
            vibe=vibe, genres=_split(genres, "genres"),
            min_popularity=min_popularity, max_popularity=max_popularity,
            exclude_artists=_bounded([a for a in exclude_artists or () if a.strip()],
                                     "exclude_artists"),
            max_per_artist=max_per_artist, diversity=diversity, limit=limit, offset=offset,
            **feature_params))

    @app.post("/v1/recommendations", response_model=RecommendResponse,
              tags=["recommendations"], responses=BODY_ERRORS,
              description="Next best tracks from a JSON body (same fields as the GET form)."
              + RECOMMEND_NOTES)
    async def recommend_post(engine: EngineDep, body: RecommendRequest) -> Any:
        """Next best tracks from a JSON body (same fields as the GET form)."""
        return fast_json(engine.recommend(**body.engine_kwargs()))

    @app.post("/v1/recommendations/batch", response_model=BatchResponse,
              tags=["recommendations"], responses=BODY_ERRORS)
    async def recommend_batch(engine: EngineDep, body: BatchRequest) -> Any:
        """Up to 100 recommendation requests; each item reports its own status or error."""
        return await run_in_threadpool(_run_batch, engine, body.requests,
                                      settings.search_threads)

    # --------------------------------------------------------------- vibes
    @app.get("/v1/vibes", response_model=VibesResponse, tags=["vibes"], responses=ERRORS)
    async def list_vibes(engine: EngineDep) -> Any:
        """Every vibe: name, size, centroid (original units and z-scores), profile, genres."""
        return {"features": list(engine.features), "vibes": engine.vibes()}

    @app.get("/v1/vibes/{vibe:path}", response_model=Vibe, tags=["vibes"], responses=ERRORS)
    async def get_vibe(engine: EngineDep,
                       vibe: Annotated[str, PathParam(max_length=MAX_TEXT,
                                                      description="vibe id, name or slug")]
                       ) -> Any:
        """One vibe, by id, name or slug (case-insensitive)."""
        return engine.vibe(vibe)

    # ------------------------------------------------------------ artifact
    @app.get("/v1/validation", tags=["artifact"], responses=ERRORS,
             response_model=dict[str, Any])
    async def validation(engine: EngineDep) -> Any:
        """Validation metrics of the loaded artifact (metrics.json)."""
        return engine.validation()

    @app.get("/v1/validation/pca", tags=["artifact"], responses=ERRORS,
             response_model=dict[str, Any])
    async def validation_pca(
        engine: EngineDep,
        f: FiltersDep,
        limit: Annotated[int | None, Query(ge=1, le=insights.MAX_PCA_POINTS)] = None,
    ) -> Any:
        """The PCA sample (stratified by vibe) with each point's track, filtered like /v1/tracks."""
        return insights.pca_points(engine, f.q, f.vibe, f.genres, f.year_min, f.year_max, limit)

    @app.get("/v1/validation/outliers", tags=["artifact"], responses=ERRORS,
             response_model=dict[str, Any])
    async def validation_outliers(
        engine: EngineDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> Any:
        """DBSCAN outlier summary and the most atypical tracks with their metadata."""
        return insights.outlier_tracks(engine, limit)

    @app.post("/v1/validation/kloop", tags=["artifact"],
              responses={**BODY_ERRORS, 429: {"model": ErrorBody,
                                              "description": "a live K-loop is running"}},
              response_model=dict[str, Any])
    def validation_kloop(engine: EngineDep, body: LiveKLoopRequest) -> Any:
        """Run the K-loop now on a seeded sample (exact metrics; one run at a time, else 429)."""
        return insights.live_k_loop(engine, body.sample_size, body.k_min, body.k_max, body.seed)

    @app.get("/v1/tracks.csv", tags=["tracks"], responses=ERRORS, response_class=Response)
    async def tracks_csv(engine: EngineDep, f: FiltersDep) -> Response:
        """Every track matching the filters (text, vibe, genre, years) as CSV with features."""
        text = await run_in_threadpool(insights.tracks_csv, engine, f.q, f.vibe, f.genres,
                                       f.year_min, f.year_max)
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="tracks.csv"'})

    @app.get("/v1/artifact", response_model=ArtifactSummary, tags=["artifact"],
             responses=ERRORS)
    async def artifact(engine: EngineDep) -> Any:
        """Which artifact is served: name, source (synthetic or not), rows, features, K."""
        return engine.artifact_summary()

    # --------------------------------------------------------------- admin
    async def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        """The bearer token, checked before the body is validated: 403 / 401 come first."""
        _check_admin(settings, authorization)

    @app.post("/admin/reload", response_model=ReloadResponse, tags=["admin"],
              dependencies=[Depends(require_admin)],
              responses={401: {"model": ErrorBody, "description": "missing or wrong token"},
                         403: {"model": ErrorBody, "description": "no admin token configured"},
                         413: {"model": ErrorBody, "description": "request body too large"},
                         422: {"model": ErrorBody,
                               "description": "not an artifact name, or artifact unusable"}})
    async def reload_artifact(
        request: Request,
        body: ReloadRequest | None = None,
    ) -> Any:
        """Load an artifact by name (default: the one served) and swap it in atomically;
        admin only."""
        current = state.current
        path = _artifact_dir(settings, body.name) if body and body.name else (
            current.path if current else settings.index_dir)
        async with state.reload_lock:
            try:
                new = await run_in_threadpool(Engine.load, path)
            except VibemapError:
                metrics.reloads.labels("failed").inc()
                raise
            previous = state.swap(new, path)
        metrics.reloads.labels("ok").inc()
        logger.info("reloaded artifact %s from %s", new.name, path)
        loaded = state.current
        if loaded is not None:
            setattr(request.state, _ARTIFACT_STATE, loaded.tag)
        return {"status": "reloaded", "artifact": new.name, "rows": new.n_tracks,
                "loaded_at": loaded.loaded_at if loaded else datetime.now(UTC),
                "previous": previous.engine.name if previous else None}

    return app

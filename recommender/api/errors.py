"""Domain errors become HTTP statuses in one place: ``ERROR_MAP`` and the handlers below.
Every error leaves as {"detail": ..., "code": ...}; client input never gives a 500."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from vibemap.indexer.errors import ArtifactError, VibemapError
from vibemap.recommender.api.responses import error_response
from vibemap.recommender.errors import (
    AdminDisabled,
    ArtifactNotLoaded,
    Busy,
    InvalidQuery,
    TrackNotFound,
    Unauthorized,
    VibeNotFound,
)

logger = logging.getLogger(__name__)

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
              413: "payload_too_large", 414: "uri_too_long",
              431: "request_header_fields_too_large"}
# an absolute POSIX path (or the tail of one) inside a message: never shown to clients
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s:'\"/]+/)*([^\s:'\"/]*)")


def error_status(exc: Exception) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_MAP:
            return ERROR_MAP[cls]
    return 500, "internal_error"


def public_message(text: str, roots: Iterable[Path] = ()) -> str:
    """``text`` without absolute server paths: paths under ``roots`` (the indexes root)
    become relative to it ("/srv/indexes/x: missing" reads "x: missing"), any other absolute
    path becomes its last component."""
    for root in roots:
        for form in {str(root), str(root.resolve())}:
            text = text.replace(form.rstrip("/") + "/", "")
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "the artifact root", text)


def validation_detail(errors: list[dict]) -> str:
    """Pydantic / FastAPI validation errors as one line: 'limit: Input should be ...'."""
    parts = []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        if loc and loc[0] in ("query", "body", "path", "header"):
            loc = loc[1:]
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts) or "invalid request"


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _leaf_routes(inner.routes)
        else:
            yield route


def allowed_methods(app: FastAPI, scope: dict) -> str:
    """The Allow header of a 405: every method of every route matching the path (HEAD with
    GET), where Starlette names only the first matching route's."""
    methods: set[str] = set()
    probe = {**scope, "method": "GET"}
    for route in _leaf_routes(app.router.routes):
        if hasattr(route, "matches") and route.matches(probe)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def domain_error(request: Request, exc: VibemapError) -> Response:
    status, code = error_status(exc)
    # artifact errors are the ones that quote server paths; other messages echo client input
    text = str(exc)
    if isinstance(exc, ArtifactError):
        text = public_message(text, [request.app.state.settings.artifacts_root])
    return error_response(status, code, text)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    return error_response(422, VALIDATION_CODE, validation_detail(list(exc.errors())))


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8):
        # invalid input like any malformed JSON body, so the same 422
        return error_response(422, VALIDATION_CODE,
                              "body: not valid JSON (it must be UTF-8 encoded JSON)")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request.app, request.scope)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"detail": ..., "code": ...}; client input never gives a 500."""
    app.add_exception_handler(VibemapError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)

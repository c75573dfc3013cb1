"""The response class every route uses (orjson) and the error bodies OpenAPI documents."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from vibemap.recommender.schemas import ErrorBody


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson (FastAPI's own ORJSONResponse is deprecated upstream)."""

    def render(self, content: Any) -> bytes:
        return render_json(content)


def render_json(content: Any) -> bytes:
    """The bytes of every JSON answer. Keys are strings in every answer the API gives, and
    orjson's option for other keys costs ~10 us of a /similar answer's ~40: it is used only
    when a dict with other keys (ints) makes the plain call fail; the bytes are the same."""
    try:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def fast_json(content: Any) -> OrjsonResponse:
    """Hot routes return the engine's plain-JSON dict as is: FastAPI then skips re-validating
    it against the response model (the model still documents it in OpenAPI, and the
    schemathesis tests check every response against it), which costs more than the search."""
    return OrjsonResponse(content)


def error_response(status: int, code: str, detail: str,
                   headers: dict[str, str] | None = None) -> OrjsonResponse:
    """The one error shape: {"detail": ..., "code": ...}."""
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return OrjsonResponse({"detail": detail, "code": code}, status_code=status,
                          headers=headers or None)


ERRORS = {
    404: {"model": ErrorBody, "description": "unknown track or vibe"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
    503: {"model": ErrorBody, "description": "no artifact loaded"},
    # the request limits of every route (middleware.RequestHeadMiddleware; sizes there): a
    # long query string reaches them, so the routes that take one document them
    414: {"model": ErrorBody, "description": "URL (path and query) too long"},
    431: {"model": ErrorBody, "description": "request headers too large"},
}
BUSY = {429: {"model": ErrorBody, "description": "too many heavy requests at once"}}
BODY_ERRORS = {**ERRORS, 413: {"model": ErrorBody, "description": "request body too large"}}

"""A route class for the hottest GET (``/similar``): documented by FastAPI like any other
route, answered without FastAPI's per-request machinery.

FastAPI spends more per request solving dependencies (a sub-response, two exit stacks,
the telemetry and endpoint context) than this route spends searching: bench/RESULTS.md
("Lean request path") has the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from vibemap.recommender.api.deps import get_engine


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose endpoint is ``async (request, engine, **path_params) ->
    Response``.

    OpenAPI is built from the declaration as for any route (path parameters, response_model,
    responses, openapi_extra). A request runs the endpoint directly: the path parameters are
    validated by FastAPI's own field check (the same 422 body), the engine is taken once by
    :func:`get_engine` (503 while none is loaded; the artifact header), and any error goes
    to the app's exception handlers as usual. While the app has dependency overrides (tests
    swapping the engine), requests take FastAPI's ordinary path, so overrides still apply.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        ordinary = super().get_route_handler()  # within FastAPI's route context, as usual
        endpoint = self.endpoint
        fields = self.dependant.path_params

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await ordinary(request)
            values, errors = request_params_to_args(fields, request.path_params)
            if errors:
                raise RequestValidationError(errors)
            return await endpoint(request, await get_engine(request), **values)

        return handler

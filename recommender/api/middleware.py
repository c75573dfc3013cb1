"""Pure ASGI middleware (nothing buffered, no task per request): request size limits,
HEAD as GET without a body, and the X-Vibemap-Artifact response header."""

from __future__ import annotations

from starlette.exceptions import HTTPException as StarletteHTTPException

from vibemap.recommender.api.responses import error_response

ARTIFACT_HEADER = "X-Vibemap-Artifact"
ARTIFACT_STATE = "vibemap_artifact"  # key in the ASGI scope's state: the engine's tag
MAX_URL_BYTES = 8 * 1024  # path + query string; a longer one gets 414
MAX_HEADER_BYTES = 32 * 1024  # all header names and values; more gets 431
# the server's own hard limit (server.py), above the two: beyond it a plain 400 and close
SERVER_MAX_HEAD_BYTES = 64 * 1024


class BodyLimitMiddleware:
    """413 ``payload_too_large`` for a request body over ``max_bytes``: at once when
    Content-Length says so (the body is never read), else as soon as a streamed body
    passes the limit."""

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
                    response = error_response(413, "payload_too_large", self._detail())
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


class RequestHeadMiddleware:
    """The request line and headers within limits, answered in the JSON error shape: 414
    ``uri_too_long`` over ``MAX_URL_BYTES``, 431 ``request_header_fields_too_large`` over
    ``MAX_HEADER_BYTES`` (the server drops anything over ``SERVER_MAX_HEAD_BYTES`` itself)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            url = len(scope.get("raw_path") or scope["path"].encode()) + len(
                scope.get("query_string") or b"")
            head = sum(len(k) + len(v) for k, v in scope.get("headers") or ())
            if url > MAX_URL_BYTES:
                await error_response(414, "uri_too_long",
                                     f"URL longer than {MAX_URL_BYTES} bytes"
                                     )(scope, receive, send)
                return
            if head > MAX_HEADER_BYTES:
                await error_response(431, "request_header_fields_too_large",
                                     f"request headers larger than {MAX_HEADER_BYTES} bytes"
                                     )(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeadMiddleware:
    """HEAD answered wherever GET is: the GET route runs and its body is dropped (status
    and headers, Content-Length included, are the GET's)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


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
                tag = state.get(ARTIFACT_STATE)
                if tag:
                    headers = [*message.get("headers", ()),
                               (ARTIFACT_HEADER.lower().encode("latin-1"), tag)]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_artifact)

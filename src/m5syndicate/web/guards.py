"""ASGI middleware that guards every route at once, so no page has to remember to:

- `BodyLimit`: a request body over MAX_BODY_BYTES gets 413, whether it says so in
  Content-Length (refused before a byte is read) or streams (chunked) past the limit;
- `CleanTarget`: a path or query with control characters (`%00`, `%0a`...) gets 400
  before it reaches a handler (PostgreSQL refuses NUL in text: it was a 500);
- `PublicRedirects`: a redirect that points back at this site is rebuilt on
  `[site] public_url`, never on the Host header the client sent (Starlette's
  trailing-slash redirect, and any mounted app's, copy the Host header).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote_to_bytes, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api"  # = web.api.PREFIX (not imported: api.py builds on the app's parts)
MAX_BODY_BYTES = 1024 * 1024  # = nginx's default client_max_body_size; forms are KiBs
CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class BodyTooLarge(Exception):
    pass


def refusal(scope: Scope, status: int, message: str) -> Response:
    """A guard's answer, in the API's JSON shape under /api/, as plain text elsewhere."""
    if scope["path"] == API_PREFIX or scope["path"].startswith(API_PREFIX + "/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def too_large(scope: Scope, limit: int) -> Response:
    return refusal(scope, 413, f"body: at most {limit} bytes are accepted here; send less")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await too_large(scope, self.max_bytes)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if received > self.max_bytes and not started:
                return  # the app caught BodyTooLarge and answers anyway: 413 wins below
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # answered just below
            await self.app(scope, counted, watched)
        if received > self.max_bytes and not started:
            await too_large(scope, self.max_bytes)(scope, receive, send)


class CleanTarget:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_control_characters(scope):
            answer = refusal(
                scope,
                400,
                "url: control characters (such as %00 or %0A) are not allowed in a path or "
                "query; remove them",
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def has_control_characters(scope: Scope) -> bool:
    path = scope["path"].encode("utf-8", "surrogateescape")
    query = unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
    return bool(CONTROL.search(path) or CONTROL.search(query))


class PublicRedirects:
    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.public_url = public_url.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")

        async def rebased(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = self.on_public_url(location, host)
            await send(message)

        await self.app(scope, receive, rebased)

    def on_public_url(self, location: str, host: str) -> str:
        """`location` on public_url when it points at this site (the Host asked for, or a
        path); a redirect elsewhere is left as the app meant it."""
        parts = urlsplit(location)
        if parts.netloc and parts.netloc.lower() != host.lower():
            return location
        if not parts.netloc and not location.startswith("/"):
            return location  # relative to the current path: the browser keeps the site
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.public_url}{parts.path or '/'}{query}"

"""`GET|HEAD /feeds/{name}.rss|.atom|.json` and `/feeds.opml`.

Bytes come from the runtime's ``FeedCache`` (built once per change, gzip included).
A poll that changed nothing gets a 304 from a dictionary lookup and a header compare.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from m5syndicate.errors import NotFound
from m5syndicate.feeds.cache import FeedCache
from m5syndicate.feeds.catalog import FORMATS, FeedSpec
from m5syndicate.feeds.publish import BuiltFeed

OPML_TYPE = "text/x-opml; charset=utf-8"


async def feed(request: Request) -> Response:
    response = await answer_feed(request)
    requests = request.app.state.runtime.metrics.feed_requests
    requests.labels(feed=request.path_params["file"], status=str(response.status_code)).inc()
    return response


async def answer_feed(request: Request) -> Response:
    cache: FeedCache = request.app.state.runtime.feed_cache
    name, _, fmt = request.path_params["file"].rpartition(".")
    built = cache.fresh(name)
    if built is None:
        if fmt not in FORMATS or not any(spec.name == name for spec in cache.catalog):
            raise NotFound(unknown_feed_message(request.path_params["file"], cache.catalog))
        built = await run_in_threadpool(cache.refresh, name)
    elif fmt not in built:
        raise NotFound(unknown_feed_message(request.path_params["file"], cache.catalog))
    return respond(request, built[fmt], cache.feeds.max_age)


def respond(request: Request, built: BuiltFeed, max_age: int) -> Response:
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    headers = {
        "ETag": built.gzip_etag if gzipped else built.etag,
        "Last-Modified": http_date(built.updated),
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if not_modified(request, built):
        return Response(status_code=304, headers=headers)
    body = built.gzipped if gzipped else built.body
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = built.media_type
    headers["Content-Length"] = str(len(body))
    return Response(b"" if request.method == "HEAD" else body, headers=headers)


def not_modified(request: Request, built: BuiltFeed) -> bool:
    """RFC 9110 13.1.2-3: If-None-Match wins; If-Modified-Since only without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or built.etag in tags or built.gzip_etag in tags
    since = parse_http_date(request.headers.get("if-modified-since", ""))
    return since is not None and built.updated <= since


def accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def parse_http_date(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unknown_feed_message(file: str, catalog: list[FeedSpec]) -> str:
    known = ", ".join(spec.path(fmt) for spec in catalog for fmt in FORMATS)
    return f"feeds: no feed /feeds/{file}; the feeds are: {known} (and /feeds.opml)"


async def opml(request: Request) -> Response:
    cache: FeedCache = request.app.state.runtime.feed_cache
    body, etag = cache.opml
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={cache.feeds.max_age}"}
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    headers["Content-Type"] = OPML_TYPE
    headers["Content-Length"] = str(len(body))
    return Response(b"" if request.method == "HEAD" else body, headers=headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/feeds.opml", opml, methods=["GET", "HEAD"]),
        Route("/feeds/{file}", feed, methods=["GET", "HEAD"]),
    ]

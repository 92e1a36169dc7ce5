"""A fake publisher on loopback, for tests and benchmarks: a WordPress REST API, feeds
and HTML pages, with faults on demand, and a log of every request it received.

    upstream = Upstream()
    upstream.posts = [wp_post(1, ...), ...]
    upstream.pages["/feed/"] = Resource(rss_bytes, "application/rss+xml")
    upstream.fail("/wp-json/wp/v2/posts", status(429, {"retry-after": "120"}))
    with upstream.running() as base_url:
        ...
    assert all(r.conditional for r in upstream.log)

The WordPress endpoint behaves as WordPress does: ``modified_after`` (exclusive, any ISO
8601 offset), ``orderby=modified``, ``order``, ``per_page`` (at most 100), ``page`` (a
page past the end answers 400 ``rest_post_invalid_page_number``), ``X-WP-Total``,
``X-WP-TotalPages`` and ``Link: rel="next"``. Unlike bare WordPress it also answers with
an ETag and 304s, as a caching proxy in front of it does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from m5syndicate.config import Settings, SourceSettings, load_settings
from tests.servers import UvicornThread

ISTANBUL = ZoneInfo("Europe/Istanbul")
POSTS_PATH = "/wp-json/wp/v2/posts"
Fault = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Logged:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


@dataclass
class Resource:
    body: bytes
    content_type: str
    etag: str = ""
    last_modified: str = ""

    def __post_init__(self) -> None:
        self.etag = self.etag or '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class Upstream:
    posts: list[dict[str, Any]] = field(default_factory=list)
    pages: dict[str, Resource] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    base_url: str = ""
    paging_headers: bool = True  # False: no X-WP-TotalPages / Link, as behind some proxies

    def fail(self, path: str, *faults: Fault) -> None:
        """The next requests to ``path`` get these answers, one each, in order."""
        self.faults.setdefault(path, []).extend(faults)

    def requests_to(self, path: str) -> list[Logged]:
        return [entry for entry in self.log if entry.path == path]

    @contextmanager
    def running(self) -> Iterator[str]:
        app = Starlette(routes=[Route("/{path:path}", self.handle)])
        with UvicornThread(app) as server:
            self.base_url = server.url
            yield server.url

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        queued = self.faults.get(path)
        if queued:
            response = await queued.pop(0)(request)
        elif path == POSTS_PATH:
            response = self.wordpress(request)
        elif path in self.pages:
            response = conditional(request, self.pages[path])
        else:
            response = Response("not found", 404)
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.log.append(Logged(path, dict(request.query_params), headers, response.status_code))
        return response

    def wordpress(self, request: Request) -> Response:
        query = request.query_params
        per_page = min(int(query.get("per_page", "10")), 100)
        page = int(query.get("page", "1"))
        chosen = [p for p in self.posts if keep(p, query)]
        if query.get("orderby", "date") in ("modified", "date", "id"):
            column = {"modified": "modified_gmt", "date": "date_gmt", "id": "id"}
            order_key = column[query.get("orderby", "date")]
            chosen = sorted(chosen, key=lambda p: (p[order_key], p["id"]))
            if query.get("order", "desc") == "desc":
                chosen.reverse()
        pages = max(math.ceil(len(chosen) / per_page), 1)
        if page > pages:
            body = {"code": "rest_post_invalid_page_number", "data": {"status": 400}}
            return Response(json.dumps(body), 400, media_type="application/json")
        items = chosen[(page - 1) * per_page : page * per_page]
        if "_fields" in query:
            fields = query["_fields"].split(",")
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        headers = {"x-wp-total": str(len(chosen)), "x-wp-totalpages": str(pages)}
        if page < pages:
            next_query = urlencode({**query, "page": str(page + 1)})
            headers["link"] = f'<{self.base_url}{POSTS_PATH}?{next_query}>; rel="next"'
        resource = Resource(json.dumps(items).encode(), "application/json; charset=UTF-8")
        response = conditional(request, resource)
        if self.paging_headers:
            response.headers.update(headers)
        return response


def keep(post: dict[str, Any], query: Any) -> bool:
    """WordPress's filters: ``modified_after``/``after`` (exclusive; a time without an
    offset is the site's wall time), ``include`` and ``exclude`` (comma-separated ids)."""
    for param, column in (("modified_after", "modified_gmt"), ("after", "date_gmt")):
        if param in query and not wp_time(post[column]) > site_time(query[param]):
            return False
    if "include" in query and post["id"] not in ids(query["include"]):
        return False
    return not ("exclude" in query and post["id"] in ids(query["exclude"]))


def ids(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part}


def site_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=ISTANBUL)).astimezone(UTC)


def conditional(request: Request, resource: Resource) -> Response:
    headers = {"etag": resource.etag}
    if resource.last_modified:
        headers["last-modified"] = resource.last_modified
    if request.headers.get("if-none-match") == resource.etag or (
        resource.last_modified
        and request.headers.get("if-modified-since") == resource.last_modified
    ):
        return Response(status_code=304, headers=headers)
    return Response(resource.body, 200, headers=headers, media_type=resource.content_type)


def wp_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Faults: each answers one request.


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Fault:
    async def answer(request: Request) -> Response:
        return Response(body or f"status {code}".encode(), code, headers=headers)

    return answer


def slow(seconds: float) -> Fault:
    async def answer(request: Request) -> Response:
        await asyncio.sleep(seconds)
        return Response(b"[]", 200, media_type="application/json")

    return answer


def raw(body: bytes, content_type: str = "application/json") -> Fault:
    async def answer(request: Request) -> Response:
        return Response(body, 200, media_type=content_type)

    return answer


def redirect(location: str, code: int = 301) -> Fault:
    async def answer(request: Request) -> Response:
        target = location
        if request.url.query and "?" not in location:
            target = f"{location}?{request.url.query}"
        return Response(status_code=code, headers={"location": target})

    return answer


def oversized(megabytes: int, compressed: bool = False) -> Fault:
    """A body bigger than ``megabytes``: streamed without a length, or gzip so that it is
    small on the wire and only too big once decompressed."""
    size = megabytes * 1024 * 1024 + 1024
    if compressed:
        packed = gzip.compress(b" " * size)

        async def zipped(request: Request) -> Response:
            headers = {"content-encoding": "gzip"}
            return Response(packed, 200, headers=headers, media_type="application/json")

        return zipped

    async def chunks() -> AsyncIterator[bytes]:
        block = b" " * 65536
        for _ in range(size // len(block) + 1):
            yield block

    async def streamed(request: Request) -> Response:
        return StreamingResponse(chunks(), 200, media_type="application/json")

    return streamed


# WordPress post payloads, shaped like /wp-json/wp/v2/posts?_embed.


def wp_post(
    post_id: int,
    title: str,
    content: str,
    date: datetime,
    modified: datetime | None = None,
    categories: tuple[tuple[str, str], ...] = (("defence-news", "Defence News"),),
    image: str = "",
    site: str = "https://www.m5dergi.com",
    slug: str = "",
) -> dict[str, Any]:
    modified = modified or date
    slug = slug or f"post-{post_id}"
    embedded: dict[str, Any] = {
        "author": [{"id": 3, "name": "M5 Dergi"}],
        "wp:term": [
            [
                {"id": 10 + i, "taxonomy": "category", "slug": s, "name": n}
                for i, (s, n) in enumerate(categories)
            ],
            [{"id": 99, "taxonomy": "post_tag", "slug": "etiket", "name": "Etiket"}],
        ],
    }
    if image:
        embedded["wp:featuredmedia"] = [{"id": 500, "source_url": image, "alt_text": "Görsel"}]
    return {
        "id": post_id,
        "date": local_wp(date),
        "date_gmt": date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "modified": local_wp(modified),
        "modified_gmt": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "guid": {"rendered": f"{site}/?p={post_id}"},
        "slug": slug,
        "status": "publish",
        "link": f"{site}/{slug}/",
        "title": {"rendered": title},
        "content": {"rendered": content, "protected": False},
        "excerpt": {"rendered": "", "protected": False},
        "_embedded": embedded,
    }


def local_wp(moment: datetime) -> str:
    """WordPress's `date`: the site's wall time, no zone (m5syndicate never reads it)."""
    return moment.astimezone(ISTANBUL).strftime("%Y-%m-%dT%H:%M:%S")


def settings_for(*sources: SourceSettings, **collect: Any) -> Settings:
    """The embedded defaults with these sources and [collect] overrides."""
    defaults = load_settings(path=None, env={})
    return dataclasses.replace(
        defaults,
        collect=dataclasses.replace(defaults.collect, **collect),
        sources=sources,
    )


def service_settings(upstream: Upstream, engine: Engine, feeds_dir: Path, **web: Any) -> Settings:
    """One WordPress source on ``upstream``, the test database, feeds in ``feeds_dir``."""
    source = SourceSettings(
        name="m5", type="wordpress", every="10m", url=f"{upstream.base_url}/wp-json/wp/v2/"
    )
    base = settings_for(source)
    return dataclasses.replace(
        base,
        database=dataclasses.replace(
            base.database, url=engine.url.render_as_string(hide_password=False)
        ),
        feeds=dataclasses.replace(base.feeds, out_dir=str(feeds_dir)),
        web=dataclasses.replace(base.web, **web),
    )

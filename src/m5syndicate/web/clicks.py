"""`GET /r/{edition}/{article}/{signature}`: a digest's article link. It counts the click
for (edition, article) and answers 302 to the article's URL as the database has it now.

The signature only proves that we made the link; the target never comes from it, so a
forged or altered link is a 404, never a redirect elsewhere. A withdrawn article leads
to the edition's archive page, which says it was withdrawn. Nothing about the reader is
recorded, not even the client's address.

What does not count (it still redirects): a HEAD request; a request a browser or mail
client marks as a prefetch or preview (``Sec-Purpose``, ``Purpose``, ``X-Purpose``,
``X-Moz``); a client without a User-Agent or one naming itself a robot, crawler, link
previewer or HTTP library (BOT_AGENT); an edition not yet sent (an admin's preview);
and every click while ``[tracking] clicks`` is off. Mail security scanners that pose as
browsers do count: the figures are clicks, not readers.
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.digest.render import web_url
from m5syndicate.errors import NotFound, StoreError
from m5syndicate.runtime import Runtime
from m5syndicate.store import clicks as click_store
from m5syndicate.store.editions import SENT_STATES
from m5syndicate.subscribers.links import verify_click
from m5syndicate.web.render import runtime_of

log = logging.getLogger("m5.web")
PREFETCH_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")
BOT_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|prefetch|scanner|facebookexternalhit|"
    r"whatsapp|curl/|wget/|python-|httpx|aiohttp|go-http-client|java/|okhttp|libwww|"
    r"headlesschrome",
    re.IGNORECASE,
)
REDIRECT_HEADERS = {
    "Cache-Control": "no-store",  # each click reaches us, none is answered from a cache
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def is_prefetch_or_robot(headers: Headers) -> bool:
    purposes = " ".join(headers.get(name, "") for name in PREFETCH_HEADERS).lower()
    if "prefetch" in purposes or "preview" in purposes:
        return True
    agent = headers.get("user-agent", "").strip()
    return not agent or BOT_AGENT.search(agent) is not None


def counts(method: str, headers: Headers, tracking: bool, edition_state: str) -> bool:
    """Whether this request is a reader's click to count (module docstring)."""
    return (
        tracking
        and method == "GET"
        and edition_state in SENT_STATES
        and not is_prefetch_or_robot(headers)
    )


def follow_link(
    runtime: Runtime, edition_id: int, article_id: int, method: str, headers: Headers
) -> str:
    """Where the link leads (counting the click when it counts); NotFound if nowhere."""
    with runtime.engine.connect() as conn:
        target = click_store.click_target(conn, edition_id, article_id)
    if target is None:
        raise NotFound(f"click: no article {article_id} in edition {edition_id}")
    if target.article_status == "withdrawn":
        return f"/archive/{target.edition_slug}?lang={target.article_language}"
    url = web_url(target.url)  # the URL policy again: never a javascript: redirect
    if not url:
        raise NotFound(f"click: article {article_id} has no web address")
    if counts(method, headers, runtime.settings.tracking.clicks, target.edition_state):
        record_click(runtime, edition_id, article_id)
    return url


def record_click(runtime: Runtime, edition_id: int, article_id: int) -> None:
    """Count it; a count that fails (a locked or failing database) is logged and never
    keeps the reader from the article."""
    try:
        with runtime.engine.begin() as conn:
            click_store.count_click(conn, edition_id, article_id, runtime.clock())
    except StoreError as exc:
        log.warning(
            "click: not counted for edition %s, article %s: %s", edition_id, article_id, exc
        )


async def click(request: Request) -> Response:
    runtime = runtime_of(request)
    edition_id = request.path_params["edition_id"]
    article_id = request.path_params["article_id"]
    secret = runtime.settings.web.secret_key.get_secret_value()
    if not verify_click(edition_id, article_id, request.path_params["signature"], secret):
        raise NotFound("click: this link is not one of ours")
    url = await asyncio.to_thread(
        follow_link, runtime, edition_id, article_id, request.method, request.headers
    )
    return RedirectResponse(url, status_code=302, headers=REDIRECT_HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/r/{edition_id:int}/{article_id:int}/{signature}", click, methods=["GET", "HEAD"])
    ]

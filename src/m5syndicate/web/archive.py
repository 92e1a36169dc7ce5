"""`GET /archive/` and `GET /archive/{edition}?lang=tr`: every sent edition, as the
digest looks in mail (the "view in browser" link of each message).

An article withdrawn upstream since the edition went out keeps its place, marked
withdrawn, with nothing of it shown (no title, text, image or link).

Archive pages carry the same safety headers and Content-Security-Policy as every other
page (``web.render.HEADERS``): no script runs, nothing is framed, no form posts
elsewhere. Two differences: they may be cached (they never change once sent), and the
policy lets the articles' photos load (``img-src`` http(s); the digest shows them).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from m5syndicate.config import LANGUAGES
from m5syndicate.digest.editions import Selection
from m5syndicate.digest.render import DigestPage, digest_page, local_date, render_mail
from m5syndicate.errors import NotFound
from m5syndicate.models import Article, Edition
from m5syndicate.runtime import Runtime
from m5syndicate.store import editions as edition_store
from m5syndicate.web.render import HEADERS

CACHE = "public, max-age=300"
ARCHIVE_HEADERS = {
    **HEADERS,
    "Cache-Control": CACHE,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; img-src https: http:",
}
WITHDRAWN_MARK = {
    "tr": "Bu haber yayıncısı tarafından yayından kaldırıldı.",
    "en": "This story has been withdrawn by its publisher.",
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def archive_index(request: Request) -> HTMLResponse:
    runtime = runtime_of(request)
    found = await asyncio.to_thread(sent_editions, runtime)
    language = runtime.settings.site.language
    items = "\n".join(
        f'<li><a href="/archive/{escape(e.slug)}?lang={language}">{escape(e.slug)}</a> '
        f"({escape(local_date(e.until, language, runtime.settings.site.timezone))})</li>"
        for e in found
    )
    title = escape(f"{runtime.settings.site.title}: archive")
    body = (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1>"
        f"<ul>{items or '<li>-</li>'}</ul></body></html>"
    )
    return HTMLResponse(body, headers=ARCHIVE_HEADERS)


def sent_editions(runtime: Runtime) -> list[Edition]:
    with runtime.engine.connect() as conn:
        return edition_store.list_sent_editions(conn)


async def archive_edition(request: Request) -> HTMLResponse:
    runtime = runtime_of(request)
    slug = request.path_params["edition"]
    language = request.query_params.get("lang", runtime.settings.site.language)
    if language not in LANGUAGES:
        language = runtime.settings.site.language
    edition = await asyncio.to_thread(sent_edition, runtime, slug)
    return HTMLResponse(edition_html(runtime, edition, language), headers=ARCHIVE_HEADERS)


def sent_edition(runtime: Runtime, slug: str) -> Edition:
    with runtime.engine.connect() as conn:
        edition = edition_store.find_edition_by_slug(conn, slug)
    if edition is None or edition.state not in edition_store.SENT_STATES:
        raise NotFound(f"archive: no sent edition {slug!r}")
    return edition


def edition_html(runtime: Runtime, edition: Edition, language: str) -> str:
    """The edition's articles in one language, in the digest's own layout."""
    shown = tuple(a for a in edition.articles if a.language == language)
    if not shown:
        raise NotFound(f"archive: edition {edition.slug} has no articles in {language!r}")
    page = digest_page(edition, Selection(shown, frozenset(), 0), language, runtime.settings.site)
    mark_withdrawn(page, shown, language)
    subscribe = f"{page.public_url}/subscribe"
    context = {
        **page.context(),
        "unsubscribe_url": subscribe,
        "preferences_url": subscribe,
        "web": True,  # the footer offers to subscribe instead of personal links
    }
    html = render_mail(runtime.email_templates, "digest", language, context).html
    return html or ""


def mark_withdrawn(page: DigestPage, shown: tuple[Article, ...], language: str) -> None:
    """Withdrawn articles keep their place in the edition, shown only as withdrawn (the
    digest template links nothing when an article has no URL)."""
    mark = WITHDRAWN_MARK.get(language, WITHDRAWN_MARK["en"])
    for index, article in enumerate(shown):
        if article.status == "withdrawn":
            page.articles[index] = replace(
                page.articles[index],
                title=mark,
                url="",
                summary="",
                image_url="",
                image_alt="",
                categories=[],
                author="",
                updated=False,
            )


def routes() -> list[BaseRoute]:
    return [
        Route("/archive/", archive_index, methods=["GET", "HEAD"]),
        Route("/archive/{edition}", archive_edition, methods=["GET", "HEAD"]),
    ]

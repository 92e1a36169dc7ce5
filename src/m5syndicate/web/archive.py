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
import re
from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.config import LANGUAGES
from m5syndicate.digest.editions import Selection
from m5syndicate.digest.render import DigestPage, digest_page, local_date, render_mail
from m5syndicate.errors import NotFound
from m5syndicate.feeds.catalog import FORMATS
from m5syndicate.models import Article, Edition
from m5syndicate.runtime import Runtime
from m5syndicate.store import editions as edition_store
from m5syndicate.web.archive_feed import ArchiveEntry, ArchiveMeta, archive_atom, archive_rss
from m5syndicate.web.i18n import TEXT, choose_language
from m5syndicate.web.render import HEADERS, environment, feed_links

CACHE = "public, max-age=300"
# The pages' own policy; a digest also shows its articles' images, from their sites.
EDITION_HEADERS = {
    **HEADERS,
    "Cache-Control": CACHE,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; img-src https: http: data:",
}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
EDITION_NAMES = {
    "tr": {
        "daily": "{date} günlük bülten",
        "weekly": "{date} haftalık bülten",
        "instant": "{date} son dakika bülteni",
    },
    "en": {
        "daily": "Daily newsletter, {date}",
        "weekly": "Weekly newsletter, {date}",
        "instant": "Breaking news, {date}",
    },
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
    lang = choose_language(request, runtime.settings.site.language)
    site = runtime.settings.site
    listed = [
        {
            "href": f"/archive/{e.slug}?lang={lang}",
            "name": edition_name(e, lang, site.timezone),
            "date": local_date(e.until, lang, site.timezone),
            "iso": e.until.isoformat(),
        }
        for e in found
    ]
    return public_page(request, "archive.html", lang, editions=listed)


def public_page(request: Request, template: str, lang: str, **context: Any) -> HTMLResponse:
    """A public page on the shared layout: publicly cacheable, so no CSRF cookie is set
    (a cached Set-Cookie would hand one visitor's cookie to the next)."""
    runtime = runtime_of(request)
    base = {
        "lang": lang,
        "t": TEXT[lang],
        "site_title": runtime.settings.site.title,
        "switch": [(code, f"{request.url.path}?lang={code}") for code in LANGUAGES],
        "feeds": [*archive_feed_links(runtime, lang), *feed_links(runtime)],
        "lang_query": f"?lang={lang}",
        "request_path": request.url.path,
    }
    html = environment().get_template(template).render({**base, **context})
    return HTMLResponse(html, headers={**HEADERS, "Cache-Control": CACHE})


def archive_feed_links(runtime: Runtime, lang: str) -> list[dict[str, str]]:
    base = runtime.settings.site.public_url.rstrip("/")
    title = f"{runtime.settings.site.title}: {TEXT[lang]['archive_title']}"
    return [
        {"type": FORMATS[fmt], "title": title, "href": f"{base}/archive/feed.{fmt}"}
        for fmt in ("atom", "rss")
    ]


def edition_name(edition: Edition, lang: str, tz: str) -> str:
    """What people call an edition: "28 Kasım 2026 günlük bülten", "Daily newsletter,
    28 November 2026"; an instant one also names its time."""
    if edition.cadence == "daily" and DAY.fullmatch(edition.period_key):
        day = format_date(date.fromisoformat(edition.period_key), "d MMMM y", locale=lang)
    else:
        day = format_date(edition.until.astimezone(ZoneInfo(tz)), "d MMMM y", locale=lang)
    if edition.cadence == "instant":
        day += " " + format_time(edition.until.astimezone(ZoneInfo(tz)), "HH:mm", locale=lang)
    pattern = EDITION_NAMES.get(lang, EDITION_NAMES["en"]).get(edition.cadence, "{date}")
    return pattern.format(date=day)


async def archive_feed(request: Request) -> Response:
    runtime = runtime_of(request)
    fmt = request.path_params["format"]
    if fmt not in ("atom", "rss"):
        raise NotFound(f"archive: no feed format {fmt!r}; use feed.atom or feed.rss")
    lang = choose_language(request, runtime.settings.site.language)
    found = await asyncio.to_thread(sent_editions, runtime)
    site = runtime.settings.site
    base = site.public_url.rstrip("/")
    entries = [
        ArchiveEntry(
            id=f"{base}/archive/{e.slug}",
            title=edition_name(e, lang, site.timezone),
            url=f"{base}/archive/{e.slug}?lang={lang}",
            sent_at=e.finished_at or e.created_at or e.until,
        )
        for e in found
    ]
    meta = ArchiveMeta(
        title=f"{site.title}: {TEXT[lang]['archive_title']}",
        language=lang,
        home_url=f"{base}/archive/",
        self_url=f"{base}/archive/feed.{fmt}",
        feed_id=f"{base}/archive/feed.{fmt}",
    )
    body = archive_atom(meta, entries) if fmt == "atom" else archive_rss(meta, entries)
    return Response(body, media_type=FORMATS[fmt], headers={"Cache-Control": CACHE})


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
    html = with_page_parts(request, edition_html(runtime, edition, language), language)
    return HTMLResponse(html, headers=EDITION_HEADERS)


def with_page_parts(request: Request, html: str, lang: str) -> str:
    """The mail's HTML made a web page: feed autodiscovery in its head, and a bar with the
    archive link and the language switch at the top of its body."""
    runtime = runtime_of(request)
    links = "".join(
        f'<link rel="alternate" type="{escape(f["type"])}" title="{escape(f["title"])}" '
        f'href="{escape(f["href"])}">'
        for f in [*archive_feed_links(runtime, lang), *feed_links(runtime)]
    )
    html = html.replace("</head>", links + "</head>", 1)
    words = TEXT[lang]
    switch = " ".join(
        f'<a href="{escape(request.url.path)}?lang={code}" hreflang="{code}"'
        + (' aria-current="true"' if code == lang else "")
        + f' style="color:#1f4e79;margin-left:.5rem">{code.upper()}</a>'
        for code in LANGUAGES
    )
    bar = (
        '<nav style="max-width:600px;margin:0 auto;padding:8px 16px;font:15px system-ui,'
        'sans-serif;display:flex;justify-content:space-between" '
        f'aria-label="{escape(words["archive_title"])}">'
        f'<a href="/archive/?lang={lang}" style="color:#1f4e79">{escape(words["archive_back"])}</a>'
        f'<span aria-label="{escape(words["switch_label"])}">{switch}</span></nav>'
    )
    head, found, rest = html.partition("<body")
    if not found:
        return html
    tag_end = rest.index(">") + 1
    return head + found + rest[:tag_end] + bar + rest[tag_end:]


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
    settings = runtime.settings
    # The sender's postal address, as in the mail's footer (the bulk-sender rules ask it
    # of everything the list shows people).
    page = digest_page(
        edition,
        Selection(shown, frozenset(), 0),
        language,
        settings.site,
        settings.newsletter.postal_address,
        category_names=settings.feeds.category_labels,
    )
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
        Route("/archive/feed.{format}", archive_feed, methods=["GET", "HEAD"]),
        Route("/archive/{edition}", archive_edition, methods=["GET", "HEAD"]),
    ]

"""One reader per source type: fetch (through the Fetcher), parse (pure), clean.

A reader yields Pages. The use case stores each page's articles and, in the same
transaction, the page's ``save`` (cursor, validators, a moved URL), so a checkpoint never
runs ahead of the articles it stands for. The dispatcher is the ``READERS`` table.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urljoin
from zoneinfo import ZoneInfo

from m5syndicate.collect import clean, directory, feed, html, wordpress
from m5syndicate.collect.fetcher import Fetched, Fetcher
from m5syndicate.collect.language import LanguageRules, category_languages
from m5syndicate.collect.parsed import iso_utc
from m5syndicate.config import CollectSettings, SourceSettings
from m5syndicate.errors import FetchError, ParseError
from m5syndicate.models import Article, SourceState

FEED_TYPES = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
HTML_TYPES = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
JSON_TYPES = "application/json"
MAX_NEW_PAGES = 50  # html: article pages fetched per run; the rest come next run
LINK_NEXT = re.compile(r"<([^>]*)>\s*;[^,]*rel\s*=\s*\"?next\"?", re.I)


@dataclass
class Page:
    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    save: dict[str, str] = field(default_factory=dict)  # source row fields, stored with it
    not_modified: bool = False
    # When set: every guid the upstream publishes now (a reconciliation); stored articles
    # of this source missing from it are withdrawn.
    present_guids: frozenset[str] | None = None


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs: the source, its stored state, the fetcher, the settings."""

    source: SourceSettings
    state: SourceState
    fetcher: Fetcher
    settings: CollectSettings
    timezone: str  # the site's zone: WordPress compares modified_after in local time
    now: datetime
    known_urls: Callable[[Sequence[str]], set[str]]  # article URLs already stored
    site_language: str = "tr"  # the last resort: an article always has a language

    def finish(self, article: Article, base_url: str = "", document_language: str = "") -> Article:
        """Clean one article; ``document_language`` is what the feed as a whole says."""
        base = base_url or article.url
        rules = LanguageRules(
            source=self.source.language,
            categories=category_languages(self.settings.category_languages),
            site=self.site_language,
        )
        return clean.finish(article, base, self.settings.boilerplate, rules, document_language)

    def finish_each(
        self, articles: Sequence[Article], base_url: str = "", document_language: str = ""
    ) -> tuple[list[Article], list[str]]:
        """(cleaned articles, "<guid or url>: <reason>" of each one that could not be)."""
        finished, skipped = [], []
        for article in articles:
            try:
                finished.append(self.finish(article, base_url, document_language))
            # Any error in one item's cleaning is that item's, never the page's: the rest
            # is stored and the walk goes on (issue 11, item 4).
            except Exception as exc:
                skipped.append(f"{article.guid or article.url}: {describe(exc)}; skipped")
        return finished, skipped


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def moved(response: Fetched, url: str | None = None) -> dict[str, str]:
    """A permanent redirect moves the stored URL (the configured one is kept apart)."""
    return {"url": url or response.moved_to} if response.moved_to else {}


def validators(response: Fetched) -> dict[str, str]:
    return {"etag": response.etag, "last_modified": response.last_modified}


async def read_wordpress(ctx: ReadContext) -> AsyncIterator[Page]:
    """Posts modified since the cursor (minus the overlap), newest first, page by page.

    Newest first: a post edited while we walk moves to page 1 (already read) and the
    rest shift one place later, so a post may be read twice but never skipped; the
    edited one is picked up next run. The cursor therefore moves only after the last
    page is stored; each page's articles are stored as soon as it arrives.
    """
    endpoint = wordpress.posts_endpoint(ctx.state.url)
    cursor = iso_utc(ctx.state.cursor) if ctx.state.cursor else None
    params = {"_embed": "1", "orderby": "modified", "order": "desc"}
    params["per_page"] = str(wordpress.PER_PAGE)
    if cursor is not None:
        since = cursor - timedelta(minutes=ctx.settings.overlap_minutes)
        params["modified_after"] = since.astimezone(ZoneInfo(ctx.timezone)).isoformat()
    first = await get_conditionally(ctx, with_query(endpoint, params), JSON_TYPES)
    relocation = moved(first, wordpress.api_root(first.moved_to))
    if first.not_modified:
        yield Page(not_modified=True, save=relocation)
        return
    newest, response, number = cursor, first, 1
    while True:
        parsed = wordpress.parse_posts(response.body, f"page {number} of {endpoint}")
        newest = max([*([newest] if newest else []), *(a.updated_at for a in parsed.articles)])
        yield Page([ctx.finish(a) for a in parsed.articles], parsed.skipped)
        count = len(parsed.articles) + len(parsed.skipped)
        next_url = next_page(response, endpoint, params, number, count)
        if not next_url:
            break
        number += 1
        response = await ctx.fetcher.get(next_url, accept=(400,), accept_type=JSON_TYPES)
        if response.status == 400:
            break  # past the last page: the list shrank while we walked it
    # Validators belong to page 1's URL, which depends on the cursor: keep them only
    # if the next poll asks for the same URL.
    unchanged = newest == cursor
    save = validators(first) if unchanged else {"etag": "", "last_modified": ""}
    cursor_text = newest.isoformat() if newest else ""
    yield Page(save={**save, "cursor": cursor_text, **relocation})


def next_page(
    response: Fetched, endpoint: str, params: dict[str, str], number: int, count: int
) -> str:
    """Link rel=next, else X-WP-TotalPages, else 'a full page may have a successor'."""
    link = LINK_NEXT.search(response.headers.get("link", ""))
    if link:
        return urljoin(response.url, link.group(1))
    total = response.headers.get("x-wp-totalpages", "")
    if total.isdigit():
        return with_query(endpoint, params, page=number + 1) if number < int(total) else ""
    return with_query(endpoint, params, page=number + 1) if count >= wordpress.PER_PAGE else ""


def with_query(url: str, params: dict[str, str], page: int = 1) -> str:
    query = {**params, "page": str(page)} if page > 1 else params
    return f"{url}?{urlencode(query)}"


async def get_conditionally(ctx: ReadContext, url: str, accept_type: str) -> Fetched:
    """GET with the source's stored validators sent back verbatim (304 when unchanged)."""
    return await ctx.fetcher.get(
        url, etag=ctx.state.etag, last_modified=ctx.state.last_modified, accept_type=accept_type
    )


async def read_feed(ctx: ReadContext) -> AsyncIterator[Page]:
    response = await get_conditionally(ctx, ctx.state.url, FEED_TYPES)
    if response.not_modified:
        yield Page(not_modified=True, save=moved(response))
        return
    known = ctx.source.categories or None  # a source limited to categories knows them
    parsed = feed.parse_feed(
        response.body, response.url, response.content_type, ctx.now, known_categories=known
    )
    language = parsed.default_language
    articles, failed = ctx.finish_each(parsed.articles, response.url, language)
    page_save = {**validators(response), **moved(response)}
    yield Page(articles, parsed.skipped + failed, page_save)


async def read_html(ctx: ReadContext) -> AsyncIterator[Page]:
    """The section page (conditionally), then only the article pages not stored yet."""
    section = await get_conditionally(ctx, ctx.state.url, HTML_TYPES)
    if section.not_modified:
        yield Page(not_modified=True, save=moved(section))
        return
    links = html.find_article_links(section.body, section.url, section.content_type)
    known = ctx.known_urls(links)
    page = Page()
    for link in [link for link in links if link not in known][:MAX_NEW_PAGES]:
        try:
            answer = await ctx.fetcher.get(link, accept_type=HTML_TYPES)
            article = html.parse_article(answer.body, answer.url, answer.content_type, ctx.now)
            page.articles.append(ctx.finish(article, answer.url))
        except FetchError as exc:
            if exc.retry_after is not None:
                raise  # the site asks us to slow down: stop this run, not just this page
            page.skipped.append(str(exc))
        except ParseError as exc:
            page.skipped.append(str(exc))
        # trafilatura or lxml failing on one page is that page's failure, not the run's.
        except Exception as exc:
            page.skipped.append(f"{link}: {describe(exc)}; skipped")
    # A failed article page keeps the section's validators unsaved, so it is retried.
    complete = not page.skipped and len(links) - len(known) <= MAX_NEW_PAGES
    page.save = {**(validators(section) if complete else {}), **moved(section)}
    yield page


async def read_directory(ctx: ReadContext) -> AsyncIterator[Page]:
    page = Page()
    for name, body in directory.read_directory(Path(ctx.state.url)):
        try:
            article = directory.parse_document(name, body, ctx.source.language)
        except ParseError as exc:
            page.skipped.append(str(exc))
            continue
        # A file whose front matter has unexpected types fails alone, named by its file.
        except Exception as exc:
            page.skipped.append(f"{name}: {describe(exc)}; skipped")
            continue
        finished, failed = ctx.finish_each([article])
        page.articles += finished
        page.skipped += failed
    yield page


Reader = Callable[[ReadContext], AsyncIterator[Page]]
READERS: dict[str, Reader] = {
    "wordpress": read_wordpress,
    "feed": read_feed,
    "html": read_html,
    "directory": read_directory,
}

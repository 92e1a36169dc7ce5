"""One reader per source type: fetch (through the Fetcher), parse (pure), clean.

A reader yields Pages. The use case stores each page's articles and, in the same
transaction, the page's ``save`` (cursor, validators, a moved URL), so a checkpoint never
runs ahead of the articles it stands for. The dispatcher is the ``READERS`` table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from m5syndicate.collect import clean, directory, feed, html, wordpress
from m5syndicate.collect.fetcher import Fetched, Fetcher
from m5syndicate.collect.language import LanguageRules, category_languages
from m5syndicate.config import CollectSettings, SourceSettings
from m5syndicate.errors import FetchError, ParseError
from m5syndicate.models import Article, SourceState

FEED_TYPES = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
HTML_TYPES = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
JSON_TYPES = "application/json"
MAX_NEW_PAGES = 50  # html: article pages fetched per run; the rest come next run
# wordpress: the fields a reconciliation lists (date and date_gmt for its keyset)
LISTING_FIELDS = "id,guid,link,date,date_gmt"
MAX_REFETCH = 500  # wordpress: listed posts not stored, read per reconciliation


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
    """Every post changed or published since the last walk, then (when due) the list of
    every post the site publishes, so that trashed ones are withdrawn and missed ones read.

    Two walks, because WordPress's cron publishes a scheduled post without touching its
    ``modified`` time: one on ``modified`` (edits, new posts), one on the publish ``date``.
    Both page by keyset, oldest first, and each page is stored with the cursor it allows,
    so a walk that fails half-way keeps what it read and resumes there.
    """
    api, relocation = await find_api(ctx)
    cursor = wordpress.Cursor.loads(ctx.state.cursor, ZoneInfo(ctx.timezone))
    first_run, last_modified = not cursor.modified, cursor.modified
    overlap = timedelta(minutes=ctx.settings.overlap_minutes)
    walk = WordPressWalk(ctx, api, cursor)

    modified = wordpress.Keyset(
        "modified", wordpress.wall_minus(cursor.modified, overlap) if cursor.modified else ""
    )
    first = await walk.fetch(modified.params(), conditional=True)
    relocation = relocation or moved(first, wordpress.api_root(first.moved_to))
    if first.not_modified:
        yield Page(not_modified=True, save=relocation)
    else:
        async for page in walk.pages(modified, first):
            yield page
    # A cursor from before the date walk existed starts it at the old modified mark.
    date_mark = cursor.date or ("" if first_run else last_modified)
    if date_mark:
        dated = wordpress.Keyset("date", wordpress.wall_minus(date_mark, overlap))
        async for page in walk.pages(dated, await walk.fetch(dated.params())):
            yield page
    else:  # a first walk read every post: the newest publish date is its high-water mark
        cursor.date = walk.newest_date
    if first_run:
        cursor.reconciled = ctx.now.isoformat()  # the first walk listed everything
    elif cursor.reconcile_due(ctx.now, timedelta(seconds=ctx.settings.reconcile_every_seconds)):
        async for page in walk.reconcile():
            yield page
    # Validators belong to the first URL, which depends on the cursor: keep them only
    # if the next poll asks for the same URL.
    unchanged = cursor.modified == last_modified
    save = validators(first) if unchanged else {"etag": "", "last_modified": ""}
    if first.not_modified:
        save = {}  # a 304 may omit the validators: keep the stored ones
    yield Page(save={**save, "cursor": cursor.dumps(), **relocation})


async def find_api(ctx: ReadContext) -> tuple[wordpress.Api, dict[str, str]]:
    """The source's API from its URL, or discovered from the site's Link header (then
    stored as the source's url, so the discovery happens once)."""
    api = wordpress.api_from_url(ctx.state.url)
    if api is not None:
        return api, {}
    page = await ctx.fetcher.get(ctx.state.url, accept_type=HTML_TYPES)
    api = wordpress.api_from_link(page.headers.get("link", ""), page.url)
    if api is None:
        raise ParseError(
            f"collect: {ctx.state.url} does not announce a WordPress REST API (no "
            f'Link: rel="https://api.w.org/" header); is it WordPress? {wordpress.URL_FORMS}'
        )
    return api, {"url": api.root}


class WordPressWalk:
    """One run's requests: keyset walks, the reconciliation, and what they saw."""

    def __init__(self, ctx: ReadContext, api: wordpress.Api, cursor: wordpress.Cursor):
        self.ctx, self.api, self.cursor = ctx, api, cursor
        self.seen: set[int] = set()  # post ids read this run: a second walk skips them
        self.newest_date = ""
        self.requests = 0

    @property
    def where(self) -> str:
        return f"request {self.requests} to {self.api.url(wordpress.POSTS_ROUTE)}"

    async def fetch(self, params: dict[str, str], conditional: bool = False) -> Fetched:
        """One request for posts: embedded terms, image and author unless only a listing."""
        embed = {} if "_fields" in params else {"_embed": "1"}
        url = self.api.url(wordpress.POSTS_ROUTE, {**embed, **params})
        self.requests += 1
        state = self.ctx.state
        etag, last_modified = (state.etag, state.last_modified) if conditional else ("", "")
        response = await self.ctx.fetcher.get(
            url, etag=etag, last_modified=last_modified, accept=(404,), accept_type=JSON_TYPES
        )
        if response.status == 404:
            raise FetchError(
                f"collect: HTTP 404 Not Found from {url}; is it WordPress with its REST API "
                f"on? {wordpress.URL_FORMS}"
            )
        return response

    async def pages(self, keyset: wordpress.Keyset, response: Fetched) -> AsyncIterator[Page]:
        """The walk from its first answer on, each page with its cursor."""
        while True:
            page = wordpress.parse_page(response.body, self.where)
            notes = self.advance_cursor(keyset.column, page.keys)
            fresh = [
                article
                for post_id, article in zip(page.article_ids, page.parsed.articles, strict=True)
                if post_id is None or post_id not in self.seen
            ]
            articles, failed = self.ctx.finish_each(fresh)
            self.seen.update(key.id for key in page.keys)
            skipped = [*page.parsed.skipped, *failed, *notes]
            yield Page(articles, skipped, {"cursor": self.cursor.dumps()})
            if page.count < wordpress.PER_PAGE:
                return
            keyset.advance(page.keys, self.where)
            response = await self.fetch(keyset.params())

    def advance_cursor(self, field_name: str, keys: list[wordpress.PostKey]) -> list[str]:
        """Move the walk's high-water mark to the newest post read, never past now; a
        time in the future is named, and the post is stored all the same."""
        notes = []
        for key in keys:
            wall = key.wall(field_name)
            if key.utc(field_name) > self.ctx.now:
                wall = key.wall_at(self.ctx.now)
                notes.append(
                    f"{self.where}: post {key.id}: its {field_name} time "
                    f"{key.utc(field_name).isoformat()} is in the future; stored, but the "
                    "cursor stays at the present"
                )
            setattr(self.cursor, field_name, max(getattr(self.cursor, field_name), wall))
            if field_name == "modified":  # the first run's date high-water mark
                date = key.wall_at(self.ctx.now) if key.date_gmt > self.ctx.now else key.date
                self.newest_date = max(self.newest_date, date)
        return notes

    async def reconcile(self) -> AsyncIterator[Page]:
        """List every published post (ids, guids and dates only), read the ones not stored
        (a scheduled post its cron published late, one that failed before), and hand the
        complete set of guids over, so the store withdraws what the site no longer has."""
        listed = await self.list_published()
        known = self.ctx.known_urls(sorted({key.guid for key in listed}))
        missing = [key.id for key in reversed(listed) if key.guid not in known]
        for start in range(0, min(len(missing), MAX_REFETCH), wordpress.PER_PAGE):
            batch = missing[start : start + wordpress.PER_PAGE]
            params = {"include": ",".join(map(str, batch)), "per_page": str(len(batch))}
            response = await self.fetch(params)
            page = wordpress.parse_page(response.body, self.where)
            articles, failed = self.ctx.finish_each(page.parsed.articles)
            yield Page(articles, [*page.parsed.skipped, *failed])
        self.cursor.reconciled = self.ctx.now.isoformat()
        guids = frozenset(key.guid for key in listed)
        yield Page(present_guids=guids, save={"cursor": self.cursor.dumps()})

    async def list_published(self) -> list[wordpress.PostKey]:
        # Keyset on the publish date, not page numbers: a post deleted while we list
        # would shift the pages and one present post would look gone (and be withdrawn).
        keyset, listed = wordpress.Keyset("date"), []
        while True:
            response = await self.fetch({"_fields": LISTING_FIELDS, **keyset.params()})
            page = wordpress.parse_listing(response.body, self.where)
            listed.extend(page.keys)
            if page.count < wordpress.PER_PAGE:
                return listed
            keyset.advance(page.keys, self.where)


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
            finished, failed = ctx.finish_each([article], answer.url)
            page.articles += finished
            page.skipped += failed
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

"""Reading a WordPress site: keyset walks over its REST API, and the reconciliation.

Every post changed or published since the last walk is read, then (when due) the list
of every post the site publishes, so that trashed ones are withdrawn and missed ones
read. Parsing is posts.py's (pure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from m5syndicate.collect.fetcher import Fetched
from m5syndicate.collect.reading import HTML_TYPES, JSON_TYPES, Page, ReadContext, moved, validators
from m5syndicate.collect.wordpress import posts as wordpress
from m5syndicate.errors import FetchError, ParseError

# The fields a reconciliation lists (date and date_gmt for its keyset).
LISTING_FIELDS = "id,guid,link,date,date_gmt"
MAX_REFETCH = 500  # listed posts not stored, read per reconciliation


async def read(ctx: ReadContext) -> AsyncIterator[Page]:
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

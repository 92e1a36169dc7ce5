"""The `refresh_due` use case: collect every due source (or one), store what is new.

Called by `m5syndicate collect`, the scheduler and the WordPress webhook alike (all
async; the CLI through ``asyncio.run``). Sources run concurrently, but the Fetcher never
sends two requests at once to one host. A source that fails is recorded on its row
(error, count, next check after backoff or the server's Retry-After) and the others go on;
whatever it yielded before failing is stored. One bad item is not a failed source: readers
put the items they could not parse or clean into ``Page.skipped`` ("item <id>: <reason>"),
the rest of the page is stored, and the run's skipped items are kept on the source row
for `sources` and `status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from m5syndicate.collect.fetcher import Fetcher
from m5syndicate.collect.reading import Page, ReadContext
from m5syndicate.collect.types import SOURCE_TYPES
from m5syndicate.config import CollectSettings, Settings, SourceSettings
from m5syndicate.errors import CollectError, M5Error
from m5syndicate.models import Article, SourceState
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources as source_store
from m5syndicate.store.articles import WITHDRAWN

log = logging.getLogger("m5.collect")
log.addHandler(logging.NullHandler())  # shown once the app configures logging, not twice


@dataclass
class SourceReport:
    name: str
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    not_modified: bool = False  # the server answered 304: nothing fetched, nothing to do
    not_due_until: datetime | None = None  # set when skipped because it is not due
    ignored: int = 0  # articles outside the source's `categories`
    error: str = ""  # why the source failed (what it stored before failing is kept)
    item_errors: list[str] = field(default_factory=list)  # items skipped, others kept
    next_check_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def collected(self) -> bool:
        return self.not_due_until is None


async def refresh_due(
    engine: Engine,
    fetcher: Fetcher,
    settings: Settings,
    now: datetime,
    *,
    only: str | None = None,
    force: bool = False,
) -> list[SourceReport]:
    """Collect the sources that are due (``next_check_at <= now``), or every enabled one
    with ``force``, or just the one named ``only`` (due or not, enabled or not).

    Returns one report per enabled source (or the one named), in config order.
    """
    chosen = [settings.source(only)] if only else [s for s in settings.sources if s.enabled]
    states = await asyncio.to_thread(sync_and_read, engine, settings.sources, now)
    runs = []
    for source in chosen:
        state = states[source.name]
        if force or only or is_due(state, now):
            runs.append(refresh_one(engine, fetcher, settings, source, state, now))
    done = {report.name: report for report in await asyncio.gather(*runs)}
    return [
        done.get(s.name) or SourceReport(s.name, not_due_until=states[s.name].next_check_at)
        for s in chosen
    ]


def sync_and_read(
    engine: Engine, configured: Sequence[SourceSettings], now: datetime
) -> dict[str, SourceState]:
    with engine.begin() as conn:
        source_store.sync_sources(conn, configured, now)
        return {state.name: state for state in source_store.list_sources(conn)}


def is_due(state: SourceState, now: datetime) -> bool:
    return state.next_check_at is None or state.next_check_at <= now


async def refresh_one(
    engine: Engine,
    fetcher: Fetcher,
    settings: Settings,
    source: SourceSettings,
    state: SourceState,
    now: datetime,
) -> SourceReport:
    report = SourceReport(source.name)
    first_run = state.last_success_at is None
    context = ReadContext(
        source,
        state,
        fetcher,
        settings.collect,
        settings.site.timezone,
        now,
        known_urls=lambda urls: read_known_urls(engine, urls),
        site_language=settings.site.language,
        known_categories=await asyncio.to_thread(known_categories, engine, settings),
    )
    try:
        async for page in SOURCE_TYPES[source.type].read(context):
            await asyncio.to_thread(
                store_page, engine, source, state, page, report, first_run, now, settings.collect
            )
    except CollectError as exc:
        retry = getattr(exc, "retry_after", None)
        return await record_failure(engine, source, state, report, str(exc), retry, now, settings)
    except (M5Error, SQLAlchemyError):
        raise  # the database is the problem, not the source
    except Exception as exc:  # a bug must not stop the other sources; its row shows it
        log.exception("collect: source %s: unexpected error", source.name)
        reason = f"collect: source {source.name}: unexpected {type(exc).__name__}: {exc}"
        return await record_failure(engine, source, state, report, reason, None, now, settings)
    report.next_check_at = now + timedelta(seconds=source.every_seconds)
    await asyncio.to_thread(
        mark_success, engine, source.name, now, report.next_check_at, report.item_errors
    )
    log.info(
        "collect: source %s: %d new, %d updated, %d unchanged",
        source.name,
        len(report.new),
        len(report.updated),
        report.unchanged,
    )
    return report


def store_page(
    engine: Engine,
    source: SourceSettings,
    state: SourceState,
    page: Page,
    report: SourceReport,
    first_run: bool,
    now: datetime,
    settings: CollectSettings,
) -> None:
    """The page's articles, the withdrawals its guid list implies and its checkpoint, in
    one transaction."""
    # A withdrawal carries no categories to filter on: it applies to what is stored.
    items = [a for a in page.articles if a.status == WITHDRAWN or wanted(a, source.categories)]
    report.ignored += len(page.articles) - len(items)
    report.item_errors.extend(page.skipped)
    report.not_modified = report.not_modified or page.not_modified
    if first_run:
        mark_backfill(items, now, settings.backfill_days)
    source_id = state.id or 0
    with engine.begin() as conn:
        # A `wordpress` source knows each post's status: it takes over stories another
        # type of source (the site's RSS feed) stored first.
        claims = source.type == "wordpress"
        result = article_store.upsert_articles(conn, source_id, items, now, claims=claims)
        if page.present_guids is not None:
            done = article_store.reconcile(conn, source_id, page.present_guids, now)
            report.updated += [*done.withdrawn, *done.restored]
            report.item_errors.extend([done.note] if done.note else [])
        source_store.save_progress(conn, source.name, **page.save)
    report.new += result.new
    report.updated += result.updated
    report.unchanged += result.unchanged


def wanted(article: Article, categories: Sequence[str]) -> bool:
    return not categories or any(c.slug in categories for c in article.categories)


def mark_backfill(items: list[Article], now: datetime, days: int) -> None:
    """On a source's first collection, older articles are kept out of digests."""
    cutoff = now - timedelta(days=days)
    for article in items:
        article.offered = article.published_at >= cutoff


async def record_failure(
    engine: Engine,
    source: SourceSettings,
    state: SourceState,
    report: SourceReport,
    reason: str,
    retry_after: float | None,
    now: datetime,
    settings: Settings,
) -> SourceReport:
    wait = backoff(source, settings.collect, state.error_count + 1)
    if retry_after:
        wait = max(wait, timedelta(seconds=retry_after))
    report.error, report.next_check_at = reason, now + wait
    await asyncio.to_thread(
        mark_failure, engine, source.name, now, reason, report.next_check_at, report.item_errors
    )
    log.warning("collect: source %s failed: %s", source.name, reason)
    return report


def backoff(source: SourceSettings, settings: CollectSettings, errors: int) -> timedelta:
    """Exponential backoff from the source's interval, capped (never below the interval)."""
    seconds = source.every_seconds * 2 ** min(errors, 16)
    cap = max(settings.max_backoff_minutes * 60, source.every_seconds)
    return timedelta(seconds=min(seconds, cap))


def mark_success(
    engine: Engine, name: str, now: datetime, next_check_at: datetime, skipped: Sequence[str]
) -> None:
    with engine.begin() as conn:
        source_store.record_success(conn, name, now, next_check_at)
        source_store.record_item_errors(conn, name, skipped)


def mark_failure(
    engine: Engine,
    name: str,
    now: datetime,
    reason: str,
    next_at: datetime,
    skipped: Sequence[str],
) -> None:
    with engine.begin() as conn:
        source_store.record_failure(conn, name, now, reason, next_at)
        source_store.record_item_errors(conn, name, skipped)


def known_categories(engine: Engine, settings: Settings) -> frozenset[str]:
    """What counts as a category in a feed that does not say: the categories the site's
    REST API named, and those the configuration names (feeds, breaking news). Without a
    `wordpress` source nothing tells them apart, and every term stays a category."""
    with engine.connect() as conn:
        stored = article_store.wordpress_category_slugs(conn)
    if not stored:
        return frozenset()
    configured = {*settings.feeds.categories, *settings.newsletter.breaking_categories}
    return frozenset(stored | configured)


def read_known_urls(engine: Engine, urls: Sequence[str]) -> set[str]:
    with engine.connect() as conn:
        return article_store.known_urls(conn, urls)

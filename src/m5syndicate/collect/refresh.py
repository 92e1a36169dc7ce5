"""The `refresh_due` use case: collect every due source (or one), store what is new.

Called by `m5syndicate collect`, the scheduler and the WordPress webhook alike. A source
that fails is recorded on its row (error, count, next check) and the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from m5syndicate.collect import clean, directory
from m5syndicate.config import CollectSettings, SourceSettings
from m5syndicate.errors import CollectError
from m5syndicate.models import Article
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources as source_store


@dataclass
class SourceReport:
    name: str
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    error: str = ""  # why the whole source failed
    item_errors: list[str] = field(default_factory=list)  # items skipped, others kept

    @property
    def failed(self) -> bool:
        return bool(self.error)


def refresh_due(
    engine: Engine,
    sources: Sequence[SourceSettings],
    settings: CollectSettings,
    now: datetime,
    only: str | None = None,
) -> list[SourceReport]:
    """Collect each enabled source (or only the one named); return what happened to each."""
    chosen = [s for s in sources if s.enabled and (only is None or s.name == only)]
    with engine.begin() as conn:
        source_store.sync_sources(conn, sources, now)
    return [refresh_one(engine, source, settings, now) for source in chosen]


def refresh_one(
    engine: Engine, source: SourceSettings, settings: CollectSettings, now: datetime
) -> SourceReport:
    report = SourceReport(source.name)
    try:
        items = read_source(source, settings, report)
    except CollectError as exc:
        report.error = str(exc)
        with engine.begin() as conn:
            source_store.record_failure(
                conn, source.name, now, report.error, now + backoff(source, settings, 1)
            )
        return report
    with engine.begin() as conn:
        state = source_store.get_source(conn, source.name)
        mark_backfill(items, state.last_success_at is None, now, settings.backfill_days)
        result = article_store.upsert_articles(conn, state.id or 0, items, now)
        source_store.record_success(
            conn, source.name, now, now + timedelta(seconds=source.every_seconds)
        )
    report.new, report.updated, report.unchanged = result.new, result.updated, result.unchanged
    return report


def read_source(
    source: SourceSettings, settings: CollectSettings, report: SourceReport
) -> list[Article]:
    if source.type != "directory":
        raise CollectError(f"collect: source {source.name}: type {source.type} is not supported")
    items = []
    for name, body in directory.read_directory(Path(source.url)):
        try:
            article = directory.parse_document(name, body, source.language)
        except CollectError as exc:
            report.item_errors.append(str(exc))
            continue
        items.append(clean.finish(article, article.url, settings.boilerplate))
    return items


def mark_backfill(items: list[Article], first_run: bool, now: datetime, days: int) -> None:
    """On a source's first collection, older articles are kept out of digests."""
    if not first_run:
        return
    cutoff = now - timedelta(days=days)
    for article in items:
        article.offered = article.published_at >= cutoff


def backoff(source: SourceSettings, settings: CollectSettings, errors: int) -> timedelta:
    """Exponential backoff from the source's interval, capped."""
    seconds = source.every_seconds * 2 ** min(errors, 16)
    return timedelta(seconds=min(seconds, settings.max_backoff_minutes * 60))

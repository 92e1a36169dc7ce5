"""Use cases that chain others, shared by the CLI, the scheduler and the webhook; each
takes the parts it needs, never the whole runtime.

- `collect_cycle`: collect what is due, then rebuild (and WebSub-ping) the feeds that
  changed. Feeds are rebuilt only when a collection stored something new or updated;
  `publish_feeds` itself rewrites only the files whose bytes changed.
- `collect_and_notify`: one collect cycle at a time (the scheduler's and the webhook's),
  then the instant edition when it brought something (`send_due` finds nothing to send
  unless a breaking article arrived).
- `send_now`: `send_due` with a transport opened and closed in the caller's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from m5syndicate.collect.parts import CollectParts
from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.delivery.reports import ProgressCallback
from m5syndicate.delivery.send import SendOptions, SendParts, SendReport, send_due
from m5syndicate.feeds.publish import PublishReport, publish_feeds
from m5syndicate.metrics import Metrics

# Opens a transport in the caller's event loop and closes it afterwards.
OpenSending = Callable[[], AbstractAsyncContextManager[SendParts]]


@dataclass
class CycleReport:
    sources: list[SourceReport]
    feeds: PublishReport | None  # None: nothing changed, feeds left as they were
    instant: SendReport | None = None  # the instant edition sent after it, if any

    @property
    def changed_article_ids(self) -> list[int]:
        return [i for report in self.sources for i in (*report.new, *report.updated)]

    @property
    def failed(self) -> bool:
        return any(report.failed for report in self.sources)


async def collect_cycle(
    parts: CollectParts, now: datetime, *, only: str | None = None, force: bool = False
) -> CycleReport:
    settings = parts.settings
    sources = await refresh_due(parts.engine, parts.fetcher, settings, now, only=only, force=force)
    report = CycleReport(sources, None)
    count_collection(parts.metrics, sources)
    if report.changed_article_ids:
        report.feeds = await asyncio.to_thread(
            publish_feeds, parts.engine, settings.feeds, settings.site
        )
    return report


async def collect_and_notify(
    parts: CollectParts,
    sending: OpenSending,
    clock: Callable[[], datetime],
    stopping: asyncio.Event,
    *,
    only: str | None = None,
) -> CycleReport:
    async with parts.lock:
        report = await collect_cycle(parts, clock(), only=only)
    if report.changed_article_ids and not stopping.is_set():
        instant = SendOptions(cadences=("instant",))
        report.instant = await send_now(sending, clock(), instant, stopping)
    return report


async def send_now(
    sending: OpenSending,
    now: datetime,
    options: SendOptions,
    stopping: asyncio.Event,
    on_progress: ProgressCallback | None = None,
) -> SendReport:
    async with sending() as parts:
        return await send_due(parts, now, options, stopping, on_progress)


def count_collection(metrics: Metrics, sources: list[SourceReport]) -> None:
    for source in sources:
        if source.failed:
            metrics.fetch_errors.labels(source=source.name).inc()
        metrics.articles_collected.labels(source=source.name, kind="new").inc(len(source.new))
        metrics.articles_collected.labels(source=source.name, kind="updated").inc(
            len(source.updated)
        )

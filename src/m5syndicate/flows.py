"""Use cases that chain others, shared by the CLI, the scheduler and the webhook.

- `collect_cycle`: collect what is due, then rebuild (and WebSub-ping) the feeds that
  changed. Feeds are rebuilt only when a collection stored something new or updated;
  `publish_feeds` itself rewrites only the files whose bytes changed.
- `collect_and_notify`: a collect cycle, then the instant edition when it brought
  something (`send_due` finds nothing to send unless a breaking article arrived).
- `send_now`: `send_due` with a transport opened and closed in the caller's loop, its
  outcome counted in the metrics.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.delivery.send import SendOptions, SendReport, send_due
from m5syndicate.feeds.publish import PublishReport, publish_feeds
from m5syndicate.runtime import Runtime


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
    runtime: Runtime, now: datetime, *, only: str | None = None, force: bool = False
) -> CycleReport:
    settings = runtime.settings
    sources = await refresh_due(
        runtime.engine, runtime.fetcher, settings, now, only=only, force=force
    )
    report = CycleReport(sources, None)
    count_collection(runtime, sources)
    if report.changed_article_ids:
        report.feeds = await asyncio.to_thread(
            publish_feeds, runtime.engine, settings.feeds, settings.site
        )
    return report


async def collect_and_notify(
    runtime: Runtime, stopping: asyncio.Event, *, only: str | None = None
) -> CycleReport:
    """One collection at a time per process (the scheduler's and the webhook's)."""
    async with runtime.collect_lock:
        report = await collect_cycle(runtime, runtime.clock(), only=only)
    if report.changed_article_ids and not stopping.is_set():
        report.instant = await send_now(runtime, SendOptions(cadences=("instant",)), stopping)
    return report


async def send_now(runtime: Runtime, options: SendOptions, stopping: asyncio.Event) -> SendReport:
    transport = runtime.new_transport()
    try:
        report = await send_due(runtime.send_parts(transport), runtime.clock(), options, stopping)
    finally:
        await transport.close()
    count_sending(runtime, report)
    return report


def count_collection(runtime: Runtime, sources: list[SourceReport]) -> None:
    metrics = runtime.metrics
    for source in sources:
        if source.failed:
            metrics.fetch_errors.labels(source=source.name).inc()
        metrics.articles_collected.labels(source=source.name, kind="new").inc(len(source.new))
        metrics.articles_collected.labels(source=source.name, kind="updated").inc(
            len(source.updated)
        )


def count_sending(runtime: Runtime, report: SendReport) -> None:
    metrics = runtime.metrics
    for edition in report.editions:
        metrics.messages_sent.labels(cadence=edition.edition.cadence).inc(edition.tally.sent)
        metrics.smtp_replies.labels(code="250").inc(edition.tally.sent)
        for _address, code, _reply in edition.failures:
            metrics.smtp_replies.labels(code=str(code or "none")).inc()

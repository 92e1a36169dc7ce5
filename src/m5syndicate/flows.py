"""Use cases that chain others, shared by the CLI, the scheduler and the webhook.

`collect_cycle`: collect what is due, then rebuild (and WebSub-ping) the feeds that
changed. Feeds are rebuilt only when a collection stored something new or updated;
`publish_feeds` itself rewrites only the files whose bytes changed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.feeds.publish import PublishReport, publish_feeds
from m5syndicate.runtime import Runtime


@dataclass
class CycleReport:
    sources: list[SourceReport]
    feeds: PublishReport | None  # None: nothing changed, feeds left as they were

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
    if report.changed_article_ids:
        report.feeds = await asyncio.to_thread(
            publish_feeds, runtime.engine, settings.feeds, settings.site
        )
    return report

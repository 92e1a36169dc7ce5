"""Everything `m5syndicate status` shows, read in one transaction."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from m5syndicate.models import DELIVERY_STATES, SUBSCRIBER_STATES, Edition
from m5syndicate.store import articles, editions, jobs, sources, stats, subscribers


@dataclass
class StatusReport:
    articles: Counter[str]
    subscribers: Counter[str]
    suppressed: int
    editions: Counter[str]
    deliveries: Counter[str]
    failing_sources: list[tuple[Any, ...]] = field(default_factory=list)  # error in full
    skipped_items: list[tuple[str, str]] = field(default_factory=list)  # (source, item)
    jobs: list[jobs.JobRun] = field(default_factory=list)
    paused: list[Edition] = field(default_factory=list)  # paused and held, with the cause

    def sections(self) -> list[tuple[str, dict[str, int]]]:
        return [
            ("articles", {"total": sum(self.articles.values()), **self.articles}),
            (
                "subscribers",
                {
                    **{s: self.subscribers[s] for s in SUBSCRIBER_STATES},
                    "suppressed": self.suppressed,
                },
            ),
            ("editions", dict(self.editions)),
            ("deliveries", {s: self.deliveries[s] for s in DELIVERY_STATES}),
        ]


def metric_figures(engine: Engine) -> tuple[dict[str, int], dict[str, int], datetime | None]:
    """Deliveries by state, articles by language, and the newest successful collection."""
    with engine.connect() as conn:
        newest = max(
            (s.last_success_at for s in sources.list_sources(conn) if s.last_success_at),
            default=None,
        )
        return (
            dict(stats.count_deliveries(conn)),
            dict(articles.count_articles(conn)),
            newest,
        )


def read_status(engine: Engine) -> StatusReport:
    with engine.connect() as conn:
        failing = [
            (s.name, s.error_count, s.next_check_at, s.last_error)
            for s in sources.list_sources(conn)
            if s.error_count
        ]
        skipped = [
            (name, problem)
            for name, problems in sorted(sources.item_errors(conn).items())
            for problem in problems
        ]
        return StatusReport(
            articles=articles.count_articles(conn),
            subscribers=subscribers.count_by_status(conn),
            suppressed=subscribers.count_suppressed(conn),
            editions=stats.count_editions(conn),
            deliveries=stats.count_deliveries(conn),
            failing_sources=failing,
            skipped_items=skipped,
            jobs=jobs.list_jobs(conn),
            paused=editions.paused_editions(conn),
        )

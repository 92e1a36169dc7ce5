"""Prometheus metrics, one registry per runtime (never a process global).

Counters are incremented where things happen (collection, feed serving, delivery,
jobs); database-backed figures (deliveries by state, articles) are read at scrape time
by `StoreCollector`, so every instance reports the same truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from m5syndicate.models import DELIVERY_STATES


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.articles_collected = Counter(
            "m5_articles_collected",
            "New or updated articles stored",
            ["source", "kind"],
            registry=r,
        )
        self.fetch_errors = Counter(
            "m5_fetch_errors", "Failed collections of a source", ["source"], registry=r
        )
        self.feed_requests = Counter(
            "m5_feed_requests", "Feed requests answered", ["feed", "status"], registry=r
        )
        self.messages_sent = Counter(
            "m5_messages_sent", "Messages accepted by the transport", ["cadence"], registry=r
        )
        self.smtp_replies = Counter("m5_smtp_replies", "SMTP replies by code", ["code"], registry=r)
        self.job_runs = Counter("m5_job_runs", "Scheduled job runs", ["job", "status"], registry=r)
        self.job_misfires = Counter(
            "m5_job_misfires", "Runs missed or skipped by the scheduler", ["job"], registry=r
        )
        self.job_duration = Histogram(
            "m5_job_duration_seconds",
            "Duration of job runs",
            ["job"],
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800),
        )

    def watch_store(self, read: Callable[[], StoreFigures]) -> None:
        self.registry.register(StoreCollector(read))

    def watch_bounces(self, read: Callable[[], list[BounceFigures]]) -> None:
        self.registry.register(BounceCollector(read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


StoreFigures = tuple[dict[str, int], dict[str, int], float | None]
"""(deliveries by state, articles by language, seconds since the last good collection)"""


class StoreCollector(Collector):
    def __init__(self, read: Callable[[], StoreFigures]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        deliveries, articles, collection_age = self.read()
        by_state = GaugeMetricFamily("m5_deliveries", "Deliveries by state", labels=["state"])
        for state in DELIVERY_STATES:
            by_state.add_metric([state], deliveries.get(state, 0))
        yield by_state
        stored = GaugeMetricFamily("m5_articles", "Stored articles", labels=["language"])
        for language, count in sorted(articles.items()):
            stored.add_metric([language], count)
        yield stored
        if collection_age is not None:
            yield GaugeMetricFamily(
                "m5_last_collection_age_seconds",
                "Seconds since the last successful collection of any source",
                value=collection_age,
            )

    def describe(self) -> Iterator[Metric]:
        return iter(())


BounceFigures = tuple[str, int, dict[str, int]]
"""(edition as cadence/period, messages sent, bounces by kind: hard, soft, complaint)"""


class BounceCollector(Collector):
    """Bounce and complaint rates of the newest editions with anything back: what the
    guard rails ([bounces] pause_hard_rate, pause_complaint_rate) watch."""

    def __init__(self, read: Callable[[], list[BounceFigures]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        counts = GaugeMetricFamily(
            "m5_edition_bounces",
            "Deliveries of an edition that came back",
            labels=["edition", "kind"],
        )
        hard = GaugeMetricFamily(
            "m5_edition_hard_bounce_rate", "Hard bounces per message sent", labels=["edition"]
        )
        complaints = GaugeMetricFamily(
            "m5_edition_complaint_rate", "Complaints per message sent", labels=["edition"]
        )
        for edition, sent, kinds in self.read():
            for kind in ("hard", "soft", "complaint"):
                counts.add_metric([edition, kind], kinds.get(kind, 0))
            hard.add_metric([edition], kinds.get("hard", 0) / sent if sent else 0.0)
            complaints.add_metric([edition], kinds.get("complaint", 0) / sent if sent else 0.0)
        yield counts
        yield hard
        yield complaints

    def describe(self) -> Iterator[Metric]:
        return iter(())

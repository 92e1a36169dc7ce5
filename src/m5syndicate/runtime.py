"""The one composition root: turns Settings into the concrete parts the use cases need.

Only this module decides which engine, transport or template folder is used; the use
cases receive them as arguments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from jinja2 import Environment
from sqlalchemy.engine import Engine

from m5syndicate.collect.fetcher import Fetcher, user_agent
from m5syndicate.config import Settings
from m5syndicate.errors import ConfigError
from m5syndicate.feeds.cache import FeedCache
from m5syndicate.metrics import Metrics, StoreFigures
from m5syndicate.models import utcnow
from m5syndicate.newsletter.templates import email_environment
from m5syndicate.newsletter.transport import OutboxTransport, Transport
from m5syndicate.scheduling.service import Service
from m5syndicate.store.engine import make_engine
from m5syndicate.store.status import metric_figures


@dataclass
class Runtime:
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)
    service: Service | None = None  # set by `run`: the scheduler, for /healthz and status

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def fetcher(self) -> Fetcher:
        """The one HTTP client of the collectors; ``await aclose()`` in the same loop."""
        return Fetcher(self.settings.collect, user_agent(self.settings.site.public_url))

    async def aclose(self) -> None:
        """Close what lives in the event loop (the HTTP client)."""
        if "fetcher" in self.__dict__:
            await self.fetcher.aclose()

    @cached_property
    def feed_cache(self) -> FeedCache:
        """Feeds built once per change, for the web app."""
        return FeedCache(self.engine, self.settings.feeds, self.settings.site)

    @cached_property
    def email_templates(self) -> Environment:
        return email_environment(self.settings.newsletter.templates_dir)

    @cached_property
    def transport(self) -> Transport:
        delivery = self.settings.delivery
        if delivery.transport == "outbox":
            return OutboxTransport(delivery.outbox_dir)
        # The SMTP transport (newsletter/smtp.py) is wired here by the digests work.
        raise ConfigError("delivery: transport 'smtp' is not available in this build; use 'outbox'")

    @cached_property
    def metrics(self) -> Metrics:
        """This process's counters, plus figures read from the database at scrape time."""
        metrics = Metrics()
        metrics.watch_store(self.store_figures)
        return metrics

    def store_figures(self) -> StoreFigures:
        deliveries, articles, newest = metric_figures(self.engine)
        age = (self.clock() - newest).total_seconds() if newest else None
        return deliveries, articles, age

    @cached_property
    def collect_lock(self) -> asyncio.Lock:
        """One collection at a time in this process: the scheduler's and the webhook's."""
        return asyncio.Lock()

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

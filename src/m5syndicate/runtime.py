"""The one composition root: turns Settings into the concrete parts the use cases need.

Only this module decides which engine, transport or template folder is used; the use
cases receive them as arguments. It imports nothing above it (the entry points build it
and hand its parts on) and is not changed after it is built: its parts are made once,
on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from jinja2 import Environment
from sqlalchemy.engine import Engine

from m5syndicate.collect.fetcher import Fetcher, user_agent
from m5syndicate.collect.parts import CollectParts
from m5syndicate.config import Settings
from m5syndicate.delivery.send import SendParts
from m5syndicate.digest.compose import Signer
from m5syndicate.digest.notices import Notices
from m5syndicate.digest.templates import email_environment
from m5syndicate.feeds.cache import FeedCache
from m5syndicate.mail.dkim import load_signer
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.mail.transport import OutboxTransport, Transport
from m5syndicate.metrics import BounceFigures, Metrics, StoreFigures
from m5syndicate.models import utcnow
from m5syndicate.store.bounces import edition_rates
from m5syndicate.store.engine import make_engine
from m5syndicate.store.status import metric_figures
from m5syndicate.subscribers.links import LinkSigner

METRIC_EDITIONS = 20  # newest editions with bounces shown in /metrics (bounded label count)


@dataclass
class Runtime:
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def fetcher(self) -> Fetcher:
        """The one HTTP client of the collectors; ``await aclose()`` in the same loop."""
        return Fetcher(self.settings.collect, user_agent(self.settings.site.public_url))

    @cached_property
    def feed_cache(self) -> FeedCache:
        """Feeds built once per change, for the web app."""
        return FeedCache(self.engine, self.settings.feeds, self.settings.site)

    @cached_property
    def email_templates(self) -> Environment:
        return email_environment(self.settings.newsletter.templates_dir)

    @cached_property
    def link_signer(self) -> LinkSigner:
        """Raises ConfigError (how to set M5_SECRET_KEY) when no key is configured."""
        return LinkSigner(
            self.settings.site.public_url,
            self.settings.web.secret_key.get_secret_value(),
            count_clicks=self.settings.tracking.clicks,
        )

    @cached_property
    def dkim_signer(self) -> Signer | None:
        return load_signer(self.settings.dkim)

    @cached_property
    def notices(self) -> Notices:
        """The account mails (confirm, welcome, goodbye), signed like the digests."""
        return Notices(self.email_templates, self.settings, self.dkim_signer)

    def new_transport(self) -> Transport:
        """The configured transport; a fresh one per event loop (SMTP connections are
        bound to the loop that opened them). The caller closes it."""
        delivery = self.settings.delivery
        if delivery.transport == "smtp":
            target = parse_smtp_url(delivery.smtp_url)
            return SmtpTransport(
                target,
                delivery.concurrency,
                delivery.timeout_seconds,
                data_timeout=delivery.data_timeout_seconds,
            )
        return OutboxTransport(delivery.outbox_dir)

    @cached_property
    def transport(self) -> Transport:
        """The transport of single mails (confirmations, welcomes) sent from one event
        loop: the web server's, or one CLI command's. Closed by ``aclose``."""
        return self.new_transport()

    def send_parts(self, transport: Transport, links: LinkSigner | None = None) -> SendParts:
        """``links`` replaces the configured signer (a preview without M5_SECRET_KEY)."""
        return SendParts(
            engine=self.engine,
            transport=transport,
            env=self.email_templates,
            settings=self.settings,
            links=links or self.link_signer,
            sign=self.dkim_signer,
            metrics=self.metrics,
        )

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[SendParts]:
        """Send parts with a transport of this event loop, closed afterwards."""
        transport = self.new_transport()
        try:
            yield self.send_parts(transport)
        finally:
            await transport.close()

    def collect_parts(self) -> CollectParts:
        """The fetcher is the current event loop's (``aclose`` ends it)."""
        return CollectParts(
            self.engine, self.fetcher, self.settings, self.metrics, self.collect_lock
        )

    @cached_property
    def metrics(self) -> Metrics:
        """This process's counters, plus figures read from the database at scrape time."""
        metrics = Metrics()
        metrics.watch_store(self.store_figures)
        metrics.watch_bounces(self.bounce_figures)
        return metrics

    def bounce_figures(self) -> list[BounceFigures]:
        with self.engine.connect() as conn:
            rates = edition_rates(conn)[:METRIC_EDITIONS]
        return [
            (
                f"{r.cadence}/{r.period_key}",
                r.sent,
                {"hard": r.hard, "soft": r.soft, "complaint": r.complaints},
            )
            for r in rates
        ]

    def store_figures(self) -> StoreFigures:
        deliveries, articles, newest = metric_figures(self.engine)
        age = (self.clock() - newest).total_seconds() if newest else None
        return deliveries, articles, age

    @cached_property
    def collect_lock(self) -> asyncio.Lock:
        """One collection at a time in this process: the scheduler's and the webhook's."""
        return asyncio.Lock()

    async def aclose(self) -> None:
        """Close what lives in the event loop (the HTTP client, the mail transport)."""
        if "fetcher" in self.__dict__:
            await self.fetcher.aclose()
            del self.__dict__["fetcher"]
        if "transport" in self.__dict__:
            await self.transport.close()
            del self.__dict__["transport"]

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

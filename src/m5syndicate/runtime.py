"""The one composition root: turns Settings into the concrete parts the use cases need.

Only this module decides which engine, transport or template folder is used; the use
cases receive them as arguments.
"""

from __future__ import annotations

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
from m5syndicate.models import utcnow
from m5syndicate.newsletter.templates import email_environment
from m5syndicate.newsletter.transport import OutboxTransport, Transport
from m5syndicate.store.engine import make_engine


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

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

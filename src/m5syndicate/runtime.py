"""The one composition root: turns Settings into the concrete parts the use cases need.

Only this module decides which engine, transport or template folder is used; the use
cases receive them as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy.engine import Engine

from m5syndicate.config import Settings
from m5syndicate.feeds.cache import FeedCache
from m5syndicate.models import utcnow
from m5syndicate.store.engine import make_engine


@dataclass
class Runtime:
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def feed_cache(self) -> FeedCache:
        """Feeds built once per change, for the web app."""
        return FeedCache(self.engine, self.settings.feeds, self.settings.site)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

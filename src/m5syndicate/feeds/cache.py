"""Built feeds kept in memory by the web app: built once per change, not per request.

A request reads the cache. At most once per ``recheck_seconds`` per feed, the cache asks
the database for the feed's marker (``store.feeds.feed_marker``: a few narrow rows) and
rebuilds the feed, all three formats and their gzip forms, only when the marker moved.
So a poll costs a dictionary lookup, a collection in another process shows within
``recheck_seconds``, and a feed is never built per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine

from m5syndicate.config import FeedsSettings, SiteSettings
from m5syndicate.feeds.build import build_opml
from m5syndicate.feeds.catalog import FeedSpec, feed_catalog, find_spec
from m5syndicate.feeds.publish import BuiltFeed, build_feed, strong_etag
from m5syndicate.store.feeds import FeedMarker, feed_marker

RECHECK_SECONDS = 1.0  # staleness bound, far below any reader's polling interval


@dataclass(frozen=True)
class Cached:
    marker: FeedMarker
    checked_at: float  # monotonic seconds
    formats: dict[str, BuiltFeed]


class FeedCache:
    def __init__(
        self,
        engine: Engine,
        feeds: FeedsSettings,
        site: SiteSettings,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.feeds = feeds
        self.site = site
        self.catalog: list[FeedSpec] = feed_catalog(feeds, site)
        self.recheck_seconds = recheck_seconds
        self.monotonic = monotonic
        self.builds = 0  # how many times a feed was built: tests and /metrics read it
        self._entries: dict[str, Cached] = {}
        self._lock = threading.Lock()

    @cached_property
    def opml(self) -> tuple[bytes, str]:
        """feeds.opml and its ETag: it depends on the configuration only."""
        site = self.site
        body = build_opml(self.catalog, site.public_url, site.title, site.url)
        return body, strong_etag(body)

    def fresh(self, name: str) -> dict[str, BuiltFeed] | None:
        """The feed if it was checked recently, else None: then call ``refresh`` (it
        queries the database, so off the event loop)."""
        entry = self._entries.get(name)
        if entry is None or self.monotonic() - entry.checked_at >= self.recheck_seconds:
            return None
        return entry.formats

    def refresh(self, name: str) -> dict[str, BuiltFeed]:
        spec = find_spec(self.catalog, name)
        if spec is None:
            raise KeyError(name)
        with self._lock:  # one check at a time; a burst of polls waits for one rebuild
            recent = self.fresh(name)
            if recent is not None:
                return recent
            entry = self._entries.get(name)
            with self.engine.connect() as conn:
                marker = feed_marker(conn, self.feeds.items, spec.language, spec.category)
                if entry is not None and entry.marker == marker:
                    formats = entry.formats
                else:
                    formats = build_feed(conn, spec, self.feeds, self.site)
                    for built in formats.values():
                        built.gzipped  # noqa: B018 -- compressed once per build, not per request
                    self.builds += 1
            self._entries[name] = Cached(marker, self.monotonic(), formats)
            return formats

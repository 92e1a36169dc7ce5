"""Plain data passed between the parts; no I/O here.

Times are timezone-aware UTC datetimes everywhere inside the program; conversion to
``site.timezone`` happens only where a person reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Category:
    slug: str
    name: str


@dataclass
class Article:
    """One upstream post, as parsed and cleaned (``id`` is set once stored)."""

    guid: str  # the upstream id (WordPress guid, feed entry id, file path): stable forever
    url: str  # canonical absolute URL, tracking parameters removed
    title: str
    content_html: str  # sanitized
    summary: str  # plain text, cut at a word boundary
    language: str
    published_at: datetime
    updated_at: datetime
    categories: list[Category] = field(default_factory=list)
    tags: list[Category] = field(default_factory=list)  # kept apart from categories
    author: str = ""
    image_url: str = ""
    image_alt: str = ""
    content_hash: str = ""
    id: int | None = None
    source: str = ""
    offered: bool = True  # False for backfilled articles: stored, shown in feeds, never mailed
    # "published", or "withdrawn" once upstream trashed, unpublished, privatised or
    # password-protected it: out of the feeds and new editions, marked in the archive.
    status: str = "published"
    # How `language` was decided: "payload", "source", "category", "document", "feed",
    # "detected" or "site" (the last resort).
    language_source: str = ""


@dataclass(frozen=True)
class SourceState:
    """A source's row: what the fetcher remembers between runs, and its health."""

    name: str
    type: str
    url: str
    etag: str = ""
    last_modified: str = ""
    cursor: str = ""  # source-specific high-water mark (WordPress: last modified_gmt seen)
    last_success_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    error_count: int = 0
    next_check_at: datetime | None = None
    id: int | None = None


@dataclass
class Subscriber:
    email: str
    language: str = "tr"
    cadence: str = "daily"
    format: str = "html"  # html or text
    status: str = "pending"  # pending, confirmed, unsubscribed
    name: str = ""
    categories: list[str] = field(default_factory=list)  # slugs; empty means all
    token_version: int = 1
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    id: int | None = None
    unsubscribed_at: datetime | None = None
    confirm_sent_at: datetime | None = None


SUBSCRIBER_STATES = ("pending", "confirmed", "unsubscribed")
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "skipped", "unknown")
# Senders claim deliveries only while an edition is "sending". paused: the relay failed
# (pause cause "relay"); the retries job, `worker` and `send` resume it. held: a person
# must resume it (console, `send --resume`), because the guard rail (cause "guard_rail")
# or an admin (cause "admin") stopped it.
EDITION_STATES = ("open", "sending", "paused", "held", "done")
PAUSE_CAUSES = ("relay", "guard_rail", "admin")


def edition_slug(cadence: str, period_key: str) -> str:
    """An edition's name in URLs and messages: daily-2026-11-28."""
    return f"{cadence}-{period_key}"


@dataclass
class Edition:
    """A frozen set of articles for one cadence and period (see digest/editions.py)."""

    cadence: str
    period_key: str  # daily: 2026-11-28; weekly: 2026-W48; instant: the start of its window
    since: datetime
    until: datetime
    state: str = "open"
    articles: list[Article] = field(default_factory=list)  # in edition order, newest first
    id: int | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    pause_cause: str = ""  # one of PAUSE_CAUSES while paused or held
    pause_reason: str = ""

    @property
    def slug(self) -> str:
        return edition_slug(self.cadence, self.period_key)

    @property
    def pause(self) -> str:
        """Why it is paused (the relay's failure, in words) or held ("held (guard_rail):
        hard bounces 6.0% ..."), for people; "" while it may be sent."""
        reason = self.pause_reason or "no reason recorded"
        if self.state == "paused":
            return reason
        if self.state == "held":
            return f"held ({self.pause_cause or 'admin'}): {reason}"
        return ""


@dataclass(frozen=True)
class Recipient:
    """What sending needs of a subscriber: claimed with its delivery row."""

    delivery_id: int
    subscriber_id: int
    email: str
    language: str
    format: str
    status: str
    token_version: int
    categories: tuple[str, ...]  # slugs; empty means all
    attempts: int = 0

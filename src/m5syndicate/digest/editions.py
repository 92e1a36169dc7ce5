"""Editions: which articles go out, per cadence and period, and to whom.

An edition is frozen (its article list written) before any mail leaves, and is unique
per (cadence, period) in ``site.timezone``: the daily one is named by the local date of
its latest scheduled time (``daily_at``), the weekly one by the ISO week of its latest
``weekly_on`` at ``daily_at``, an instant one by the start of its window. Each covers the
articles published since the cadence's previous edition (the first: the last 24 hours
or 7 days), plus articles edited since then so they can go out again marked "updated".
Backfilled articles (``offered`` false) are never offered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from m5syndicate.config import WEEKDAYS, NewsletterSettings
from m5syndicate.models import Article, Edition, Recipient
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store

FIRST_WINDOW = {
    "instant": timedelta(hours=24),
    "daily": timedelta(hours=24),
    "weekly": timedelta(days=7),
}
EDIT_LOOKBACK = timedelta(days=7)  # an edited article older than this is not re-offered
UNFINISHED = ("open", "sending", "paused")


def scheduled_date(cadence: str, now: datetime, newsletter: NewsletterSettings, tz: str) -> date:
    """The local date of the cadence's latest scheduled time at or before ``now``."""
    local = now.astimezone(ZoneInfo(tz))
    hour, minute = (int(part) for part in newsletter.daily_at.split(":"))
    day = local.date() if local.time() >= time(hour, minute) else local.date() - timedelta(1)
    if cadence == "weekly":
        day -= timedelta(days=(day.weekday() - WEEKDAYS.index(newsletter.weekly_on)) % 7)
    return day


def period_key(cadence: str, now: datetime, newsletter: NewsletterSettings, tz: str) -> str:
    """daily: 2026-11-28; weekly: 2026-W48 (ISO week); in the site's zone."""
    day = scheduled_date(cadence, now, newsletter, tz)
    if cadence == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def instant_key(since: datetime) -> str:
    return since.strftime("%Y%m%dT%H%M%SZ")


def editions_to_send(
    engine: Engine,
    cadence: str,
    now: datetime,
    newsletter: NewsletterSettings,
    tz: str,
    freeze_due: bool = True,
) -> list[Edition]:
    """Unfinished editions of the cadence (oldest first), then the due one, frozen now
    (unless ``freeze_due`` is False: then only the unfinished ones)."""
    with engine.begin() as conn:
        unfinished = edition_store.unfinished_editions(conn, cadence)
        if not freeze_due:
            return unfinished
        due = draft_edition(conn, cadence, now, newsletter, tz)
        if due is not None and due.id is None:
            # Nobody on this cadence: nothing to freeze (an edition would hold its
            # articles back from a later subscriber's first one).
            due = freeze(conn, due, now) if subscriber_store.has_recipients(conn, cadence) else None
    fresh = due is not None and all(edition.id != due.id for edition in unfinished)
    if fresh and due is not None and due.state in UNFINISHED:
        unfinished.append(due)
    return unfinished


def draft_edition(
    conn: Connection,
    cadence: str,
    now: datetime,
    newsletter: NewsletterSettings,
    tz: str,
) -> Edition | None:
    """The due edition: the stored one for this period, or an unsaved draft of it; None
    when there is nothing new to send."""
    latest = edition_store.latest_edition(conn, cadence)
    if cadence == "instant":
        since = latest.until if latest else now - FIRST_WINDOW[cadence]
        key = instant_key(since)
    else:
        key = period_key(cadence, now, newsletter, tz)
        if latest is not None and latest.period_key == key:
            return edition_store.get_edition(conn, latest.id or 0)
        found = edition_store.find_edition(conn, cadence, key)
        if found is not None:
            return found
        since = latest.until if latest else now - FIRST_WINDOW[cadence]
    only = newsletter.breaking_categories if cadence == "instant" else ()
    if cadence == "instant" and not only:
        return None  # no breaking categories configured: instant editions never happen
    found_articles = edition_store.candidate_articles(conn, since, now, now - EDIT_LOOKBACK, only)
    if not found_articles:
        return None
    return Edition(cadence, key, since, now, articles=found_articles)


def freeze(conn: Connection, draft: Edition, now: datetime) -> Edition | None:
    """Store the draft; if another sender froze this period first, theirs wins."""
    new_id = edition_store.insert_edition(conn, draft, now)
    if new_id is None:
        return edition_store.find_edition(conn, draft.cadence, draft.period_key)
    draft.id, draft.created_at = new_id, now
    return draft


@dataclass(frozen=True)
class Selection:
    """The articles one subscriber gets from an edition."""

    articles: tuple[Article, ...]
    updated: frozenset[int]  # ids of articles they got before, edited since
    more: int  # articles left out by max_articles

    @property
    def key(self) -> tuple[object, ...]:
        """Subscribers with equal keys (and language, format) get the same mail."""
        return (tuple(a.id for a in self.articles), tuple(sorted(self.updated)), self.more)

    @property
    def sent_articles(self) -> tuple[tuple[int, str], ...]:
        return tuple((a.id or 0, a.content_hash) for a in self.articles)


def select_articles(
    edition: Edition,
    recipient: Recipient,
    delivered: Mapping[int, str],
    newsletter: NewsletterSettings,
) -> Selection | str:
    """The recipient's articles, or the reason their delivery is skipped.

    Their language; their categories (none chosen = all); not already mailed to them
    unless edited since (then marked "updated"); the newest ``max_articles``.
    """
    chosen: list[Article] = []
    updated: set[int] = set()
    for article in edition.articles:
        if not wanted(article, recipient):
            continue
        previous = delivered.get(article.id or 0)
        if previous is not None and same_content(previous, article.content_hash):
            continue  # they have it already, unchanged
        if previous is not None:
            updated.add(article.id or 0)
        chosen.append(article)
    if len(chosen) < max(newsletter.min_articles, 1):
        return skip_reason(len(chosen), newsletter.min_articles)
    shown = chosen[: newsletter.max_articles]
    kept_updates = frozenset(updated & {a.id for a in shown if a.id is not None})
    return Selection(tuple(shown), kept_updates, len(chosen) - len(shown))


def same_content(sent: str, content_hash: str) -> bool:
    """Is the article as it was when mailed? The ledger keeps the start of its hash."""
    return bool(sent) and content_hash.startswith(sent)


def wanted(article: Article, recipient: Recipient) -> bool:
    if article.language != recipient.language:
        return False
    if not recipient.categories:
        return True
    return any(category.slug in recipient.categories for category in article.categories)


def skip_reason(found: int, minimum: int) -> str:
    if found == 0:
        return "nothing new in their language and categories"
    return f"only {found} new article(s), fewer than min_articles = {minimum}"


def article_ids(editions: Sequence[Edition]) -> list[int]:
    return [a.id for edition in editions for a in edition.articles if a.id is not None]

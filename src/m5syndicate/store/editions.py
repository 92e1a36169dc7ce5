"""Edition rows and their frozen article lists, and the state changes of a send.

State changes are conditional UPDATEs (``WHERE state IN ...``), so a pause written by
one party (the guard rail, the console) is never overwritten by another that read the
edition earlier: a sender starts only an edition that may be sent, and pauses or
finishes only one it is still sending. Claims (deliveries.py) read the state too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.models import Article, Edition
from m5syndicate.store.articles import PUBLISHED, to_articles
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.schema import (
    article_categories,
    articles,
    categories,
    deliveries,
    edition_articles,
    editions,
    sources,
)

SENT_STATES = ("sending", "paused", "held", "done")  # editions whose mail has (started to) leave
STARTABLE = ("open", "sending", "paused")  # a sender may (re)start these; "held" waits for a person


def to_edition(row: RowMapping, article_list: list[Article] | None = None) -> Edition:
    return Edition(
        id=row.id,
        cadence=row.cadence,
        period_key=row.period_key,
        state=row.state,
        since=row.since,
        until=row.until,
        created_at=row.created_at,
        finished_at=row.finished_at,
        articles=article_list or [],
        pause_cause=row.pause_cause,
        pause_reason=row.pause_reason,
    )


def find_edition(conn: Connection, cadence: str, period_key: str) -> Edition | None:
    row = (
        conn.execute(
            select(editions).where(
                (editions.c.cadence == cadence) & (editions.c.period_key == period_key)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else with_articles(conn, row)


def get_edition(conn: Connection, edition_id: int) -> Edition | None:
    row = conn.execute(select(editions).where(editions.c.id == edition_id)).mappings().first()
    return None if row is None else with_articles(conn, row)


def latest_edition(conn: Connection, cadence: str) -> Edition | None:
    """The cadence's most recent edition (by the end of its window), articles not loaded."""
    row = (
        conn.execute(
            select(editions)
            .where(editions.c.cadence == cadence)
            .order_by(editions.c.until.desc(), editions.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else to_edition(row)


def with_articles(conn: Connection, row: RowMapping) -> Edition:
    query = (
        select(articles, sources.c.name.label("source"))
        .join(sources)
        .join(edition_articles, edition_articles.c.article_id == articles.c.id)
        .where(edition_articles.c.edition_id == row.id)
        .order_by(edition_articles.c.position)
    )
    return to_edition(row, to_articles(conn, list(conn.execute(query).mappings())))


def candidate_articles(
    conn: Connection,
    since: datetime,
    until: datetime,
    oldest: datetime,
    only_categories: Sequence[str] = (),
) -> list[Article]:
    """Offered, published (not withdrawn) articles published in [since, until), or edited
    then and published after ``oldest`` (so an edited article can go out again, marked
    "updated"); newest first."""
    published = and_(articles.c.published_at >= since, articles.c.published_at < until)
    edited = and_(
        articles.c.updated_at >= since,
        articles.c.updated_at < until,
        articles.c.published_at >= oldest,
    )
    query = (
        select(articles, sources.c.name.label("source"))
        .join(sources)
        .where(
            articles.c.offered.is_(True),
            articles.c.status == PUBLISHED,
            or_(published, edited),
        )
    )
    if only_categories:
        query = query.where(
            exists(
                select(article_categories.c.article_id)
                .join(categories)
                .where(
                    (article_categories.c.article_id == articles.c.id)
                    & categories.c.slug.in_(list(only_categories))
                )
            )
        )
    query = query.order_by(articles.c.published_at.desc(), articles.c.id.desc())
    return to_articles(conn, list(conn.execute(query).mappings()))


def insert_edition(conn: Connection, edition: Edition, now: datetime) -> int | None:
    """Freeze an edition and its articles; None if another process froze this period first."""
    values: dict[str, Any] = {
        "cadence": edition.cadence,
        "period_key": edition.period_key,
        "state": "open",
        "since": edition.since,
        "until": edition.until,
        "created_at": now,
    }
    statement = (
        insert_on_conflict(conn, editions)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["cadence", "period_key"])
        .returning(editions.c.id)
    )
    edition_id = conn.execute(statement).scalar_one_or_none()
    if edition_id is None:
        return None
    if edition.articles:
        conn.execute(
            insert(edition_articles),
            [
                {"edition_id": edition_id, "article_id": article.id, "position": position}
                for position, article in enumerate(edition.articles)
            ],
        )
    return edition_id


def start_sending(conn: Connection, edition_id: int) -> bool:
    """open / sending / paused (by the relay) -> sending, the pause cleared; False when
    the edition is held (or done) and must not be sent now."""
    return changed(conn, edition_id, STARTABLE, "sending")


def pause_for_relay(conn: Connection, edition_id: int, reason: str) -> bool:
    """A sender saw the relay fail: paused, resumed by the next send run. Only an edition
    still being sent: a hold written meanwhile stays."""
    return changed(conn, edition_id, ("sending",), "paused", "relay", reason)


def hold_edition(
    conn: Connection, edition_id: int, cause: str, reason: str, states: Sequence[str]
) -> bool:
    """Held until a person resumes it (cause guard_rail or admin), from one of ``states``."""
    return changed(conn, edition_id, states, "held", cause, reason)


def resume_held(conn: Connection, edition_id: int) -> bool:
    """held -> sending (or open, when it was held before its ledger was written: the
    next sender writes it then), the pause cleared: the next sender (the retries job, a
    worker, `send`) takes it up."""
    opened = exists(select(deliveries.c.id).where(deliveries.c.edition_id == edition_id))
    result = conn.execute(
        update(editions)
        .where((editions.c.id == edition_id) & (editions.c.state == "held"))
        .values(
            state=case((opened, "sending"), else_="open"),
            pause_cause="",
            pause_reason="",
        )
    )
    return bool(result.rowcount)


def reopen_done(conn: Connection, edition_id: int) -> bool:
    """done -> sending, for failed deliveries given another go."""
    return changed(conn, edition_id, ("done",), "sending")


def finish_sending(conn: Connection, edition_id: int, now: datetime) -> bool:
    """sending -> done (every delivery finished)."""
    return changed(conn, edition_id, ("sending",), "done", finished_at=now)


def changed(
    conn: Connection,
    edition_id: int,
    states: Sequence[str],
    state: str,
    cause: str = "",
    reason: str = "",
    finished_at: datetime | None = None,
) -> bool:
    result = conn.execute(
        update(editions)
        .where((editions.c.id == edition_id) & editions.c.state.in_(list(states)))
        .values(state=state, pause_cause=cause, pause_reason=reason[:2000], finished_at=finished_at)
    )
    return bool(result.rowcount)


def edition_state(conn: Connection, edition_id: int) -> Edition | None:
    """The edition's row as it is now (state and pause), articles not loaded."""
    row = conn.execute(select(editions).where(editions.c.id == edition_id)).mappings().first()
    return None if row is None else to_edition(row)


def paused_editions(conn: Connection, limit: int = 50) -> list[Edition]:
    """Paused and held editions, newest first (for `status`); articles not loaded."""
    rows = conn.execute(
        select(editions)
        .where(editions.c.state.in_(("paused", "held")))
        .order_by(editions.c.until.desc(), editions.c.id.desc())
        .limit(limit)
    ).mappings()
    return [to_edition(row) for row in rows]


def list_sent_editions(conn: Connection, limit: int = 200) -> list[Edition]:
    """Editions whose mail went (or is going) out, newest first; articles not loaded."""
    rows = conn.execute(
        select(editions)
        .where(editions.c.state.in_(SENT_STATES))
        .order_by(editions.c.until.desc(), editions.c.id.desc())
        .limit(limit)
    ).mappings()
    return [to_edition(row) for row in rows]


def find_edition_by_slug(conn: Connection, slug: str) -> Edition | None:
    cadence, _, period_key = slug.partition("-")
    return find_edition(conn, cadence, period_key) if period_key else None


def unfinished_editions(conn: Connection, cadence: str) -> list[Edition]:
    """Editions of a cadence a sender may take up (open, sending, paused by the relay),
    oldest first; held ones wait for a person."""
    rows = conn.execute(
        select(editions)
        .where((editions.c.cadence == cadence) & editions.c.state.in_(STARTABLE))
        .order_by(editions.c.until, editions.c.id)
    ).mappings()
    return [with_articles(conn, row) for row in list(rows)]


def list_recent_editions(conn: Connection, limit: int = 100) -> list[Edition]:
    """Every edition, newest first (the console's list); articles not loaded."""
    rows = conn.execute(
        select(editions).order_by(editions.c.until.desc(), editions.c.id.desc()).limit(limit)
    ).mappings()
    return [to_edition(row) for row in rows]

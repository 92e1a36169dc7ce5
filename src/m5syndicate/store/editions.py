"""Edition rows and their frozen article lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.models import Article, Edition
from m5syndicate.store.articles import PUBLISHED, to_articles
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.schema import (
    article_categories,
    articles,
    categories,
    edition_articles,
    editions,
    sources,
)

SENT_STATES = ("sending", "paused", "held", "done")  # editions whose mail has (started to) leave


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


def set_edition_state(
    conn: Connection, edition_id: int, state: str, finished_at: datetime | None = None
) -> None:
    conn.execute(
        update(editions)
        .where(editions.c.id == edition_id)
        .values(state=state, finished_at=finished_at)
    )


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
    """Editions of a cadence not yet done (open, sending, paused), oldest first."""
    rows = conn.execute(
        select(editions)
        .where(
            (editions.c.cadence == cadence) & editions.c.state.in_(("open", "sending", "paused"))
        )
        .order_by(editions.c.until, editions.c.id)
    ).mappings()
    return [with_articles(conn, row) for row in list(rows)]


def list_recent_editions(conn: Connection, limit: int = 100) -> list[Edition]:
    """Every edition, newest first (the console's list); articles not loaded."""
    rows = conn.execute(
        select(editions).order_by(editions.c.until.desc(), editions.c.id.desc()).limit(limit)
    ).mappings()
    return [to_edition(row) for row in rows]

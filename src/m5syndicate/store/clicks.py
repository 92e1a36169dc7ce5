"""Click counts per edition and article: one row per pair, bumped by an upsert.

``INSERT ... ON CONFLICT DO UPDATE SET clicks = clicks + 1`` is one statement: on
PostgreSQL concurrent clicks on one pair wait for each other's row lock and each adds
one; on SQLite writes are serialised anyway. No read-then-write, so no click is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from m5syndicate.models import edition_slug
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.schema import article_clicks, articles, edition_articles, editions


@dataclass(frozen=True)
class ArticleClicks:
    article_id: int
    title: str
    url: str
    clicks: int


@dataclass(frozen=True)
class ClickTarget:
    """Where a click link leads, read from the database (never from the link)."""

    url: str
    article_status: str  # published | withdrawn
    article_language: str
    edition_slug: str
    edition_state: str


def click_target(conn: Connection, edition_id: int, article_id: int) -> ClickTarget | None:
    """The article's current URL, if the article is in the edition."""
    row = conn.execute(
        select(
            articles.c.url,
            articles.c.status,
            articles.c.language,
            editions.c.cadence,
            editions.c.period_key,
            editions.c.state,
        )
        .select_from(
            edition_articles.join(articles, articles.c.id == edition_articles.c.article_id).join(
                editions, editions.c.id == edition_articles.c.edition_id
            )
        )
        .where(
            (edition_articles.c.edition_id == edition_id)
            & (edition_articles.c.article_id == article_id)
        )
    ).first()
    if row is None:
        return None
    slug = edition_slug(row.cadence, row.period_key)
    return ClickTarget(row.url, row.status, row.language, slug, row.state)


def count_click(conn: Connection, edition_id: int, article_id: int, at: datetime) -> None:
    statement = insert_on_conflict(conn, article_clicks).values(
        edition_id=edition_id,
        article_id=article_id,
        clicks=1,
        first_clicked_at=at,
        last_clicked_at=at,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[article_clicks.c.edition_id, article_clicks.c.article_id],
            set_={
                "clicks": article_clicks.c.clicks + 1,
                "last_clicked_at": statement.excluded.last_clicked_at,
            },
        )
    )


def edition_clicks(conn: Connection, edition_id: int) -> dict[int, int]:
    """article id -> clicks, for the articles of the edition clicked at least once."""
    rows = conn.execute(
        select(article_clicks.c.article_id, article_clicks.c.clicks).where(
            article_clicks.c.edition_id == edition_id
        )
    )
    return {int(row.article_id): int(row.clicks) for row in rows}


def clicks_by_article(conn: Connection, edition_id: int) -> list[ArticleClicks]:
    """Every article of the edition with its clicks (0 when none), most clicked first,
    ties in the edition's order."""
    clicks = func.coalesce(article_clicks.c.clicks, 0)
    counted = (edition_articles.c.edition_id == article_clicks.c.edition_id) & (
        edition_articles.c.article_id == article_clicks.c.article_id
    )
    rows = conn.execute(
        select(articles.c.id, articles.c.title, articles.c.url, clicks.label("clicks"))
        .select_from(
            edition_articles.join(
                articles, articles.c.id == edition_articles.c.article_id
            ).outerjoin(article_clicks, counted)
        )
        .where(edition_articles.c.edition_id == edition_id)
        .order_by(clicks.desc(), edition_articles.c.position)
    )
    return [ArticleClicks(int(r.id), r.title, r.url, int(r.clicks)) for r in rows]

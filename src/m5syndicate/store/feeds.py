"""Queries the feeds need besides ``articles.latest_articles``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from m5syndicate.store.articles import newest_first
from m5syndicate.store.schema import articles

FeedMarker = tuple[tuple[object, ...], ...]


def feed_marker(
    conn: Connection, limit: int, language: str | None = None, category: str | None = None
) -> FeedMarker:
    """A cheap fingerprint of what one feed shows: for its newest ``limit`` articles (the
    same filter and order as ``latest_articles``: published ones only), their id, update
    time and fingerprint (everything visible, categories and URL included). Equal markers
    mean the feed's bytes need not be rebuilt; it reads a few narrow index-ordered rows,
    not the article bodies."""
    query = select(
        articles.c.id,
        articles.c.updated_at,
        articles.c.fingerprint,
    )
    return tuple(tuple(row) for row in conn.execute(newest_first(query, limit, language, category)))

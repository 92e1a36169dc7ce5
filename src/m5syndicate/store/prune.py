"""Retention: old ledger rows go; editions (the archive), articles and consent stay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import delivered_articles, deliveries, editions


def prune_ledger(conn: Connection, before: datetime) -> tuple[int, int]:
    """Delete deliveries of editions finished before ``before``, and the per-article
    delivery marks older than that (editions only offer recent articles, so an old mark
    can no longer keep anything out of a digest). Returns (deliveries, marks) deleted."""
    old_editions = select(editions.c.id).where(editions.c.finished_at < before)
    gone = conn.execute(delete(deliveries).where(deliveries.c.edition_id.in_(old_editions)))
    marks = conn.execute(delete(delivered_articles).where(delivered_articles.c.sent_at < before))
    return gone.rowcount or 0, marks.rowcount or 0

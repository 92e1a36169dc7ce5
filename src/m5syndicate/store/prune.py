"""Retention: old ledger rows go; editions (the archive), articles and consent stay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import deliveries, editions


def prune_ledger(conn: Connection, before: datetime) -> int:
    """Delete deliveries of editions finished before ``before``, with the record of
    which articles they carried (editions only offer recent articles, so an old record
    can no longer keep anything out of a digest). Returns the deliveries deleted."""
    old_editions = select(editions.c.id).where(editions.c.finished_at < before)
    gone = conn.execute(delete(deliveries).where(deliveries.c.edition_id.in_(old_editions)))
    return gone.rowcount or 0

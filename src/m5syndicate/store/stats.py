"""Counts for `m5syndicate status`."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import deliveries, editions


def count_editions(conn: Connection) -> Counter[str]:
    """Editions per state."""
    rows = conn.execute(select(editions.c.state, func.count()).group_by(editions.c.state))
    return Counter({row[0]: int(row[1]) for row in rows})


def count_deliveries(conn: Connection) -> Counter[str]:
    """Deliveries per state, across all editions."""
    rows = conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))
    return Counter({row[0]: int(row[1]) for row in rows})

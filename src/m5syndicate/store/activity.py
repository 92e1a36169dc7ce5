"""What the console's dashboard counts over a period: deliveries by outcome, and the
subscribers' consent events (unsubscribes, complaints) by kind."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import consent_events, deliveries, editions


def deliveries_since(conn: Connection, since: datetime) -> Counter[str]:
    """Deliveries created since `since`, by state (sent, failed, pending, ...)."""
    rows = conn.execute(
        select(deliveries.c.state, func.count())
        .where(deliveries.c.created_at >= since)
        .group_by(deliveries.c.state)
    )
    return Counter({state: count for state, count in rows})


def bounces_since(conn: Connection, since: datetime) -> int:
    """Failed deliveries with a permanent (5xx) SMTP reply."""
    row = conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            (deliveries.c.created_at >= since)
            & (deliveries.c.state == "failed")
            & (deliveries.c.smtp_code >= 500)
        )
    ).scalar_one()
    return int(row)


def consent_events_since(conn: Connection, since: datetime) -> Counter[str]:
    rows = conn.execute(
        select(consent_events.c.kind, func.count())
        .where(consent_events.c.at >= since)
        .group_by(consent_events.c.kind)
    )
    return Counter({kind: count for kind, count in rows})


def sent_since(conn: Connection, since: datetime, edition_id: int) -> int:
    """Messages of one edition sent since `since` (its measured rate)."""
    row = conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            (deliveries.c.edition_id == edition_id)
            & (deliveries.c.state == "sent")
            & (deliveries.c.sent_at >= since)
        )
    ).scalar_one()
    return int(row)


def deliveries_of_subscriber(
    conn: Connection, subscriber_id: int, limit: int = 50
) -> list[tuple[str, str, datetime | None, str]]:
    """(edition slug, state, sent at, last error) of one subscriber's deliveries, newest
    first."""
    rows = conn.execute(
        select(
            editions.c.cadence,
            editions.c.period_key,
            deliveries.c.state,
            deliveries.c.sent_at,
            deliveries.c.last_error,
        )
        .join(editions, editions.c.id == deliveries.c.edition_id)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    return [(f"{c}-{k}", state, sent, error) for c, k, state, sent, error in rows]

"""Bounce, complaint and unsubscribe-mail records, and the rates per edition they give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.schema import bounces, deliveries, editions, subscribers


@dataclass(frozen=True)
class Target:
    """Whom a returned mail is about."""

    subscriber_id: int
    email: str
    token_version: int
    edition_id: int | None = None
    delivery_id: int | None = None


@dataclass(frozen=True)
class EditionRates:
    edition_id: int
    cadence: str
    period_key: str
    state: str
    sent: int
    hard: int
    soft: int
    complaints: int

    @property
    def hard_rate(self) -> float:
        return self.hard / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0


def target_of_delivery(conn: Connection, delivery_id: int) -> Target | None:
    row = conn.execute(
        select(
            deliveries.c.edition_id,
            subscribers.c.id,
            subscribers.c.email,
            subscribers.c.token_version,
        )
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return None
    return Target(row.id, row.email, row.token_version, row.edition_id, delivery_id)


def target_of_latest_delivery(conn: Connection, subscriber_id: int) -> Target | None:
    """The subscriber with their most recent sent delivery: what a bounce naming only
    the address is most likely about (it counts for that edition's rates)."""
    delivery_id = conn.execute(
        select(deliveries.c.id)
        .where((deliveries.c.subscriber_id == subscriber_id) & (deliveries.c.state == "sent"))
        .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
        .limit(1)
    ).scalar()
    if delivery_id is not None:
        return target_of_delivery(conn, delivery_id)
    return target_of_subscriber(conn, subscriber_id)


def target_of_subscriber(conn: Connection, subscriber_id: int) -> Target | None:
    row = conn.execute(
        select(subscribers.c.id, subscribers.c.email, subscribers.c.token_version).where(
            subscribers.c.id == subscriber_id
        )
    ).first()
    return None if row is None else Target(row.id, row.email, row.token_version)


def record_bounce(
    conn: Connection,
    *,
    event_key: str,
    kind: str,
    source: str,
    target: Target | None,
    status: str,
    detail: str,
    now: datetime,
) -> bool:
    """Store one record; False when this event was stored before (a mail read twice)."""
    statement = insert_on_conflict(conn, bounces).values(
        event_key=event_key[:255],
        kind=kind,
        source=source,
        delivery_id=target.delivery_id if target else None,
        edition_id=target.edition_id if target else None,
        subscriber_id=target.subscriber_id if target else None,
        status=status[:40],
        detail=detail,
        received_at=now,
    )
    # RETURNING, not rowcount: PostgreSQL's driver counts a skipped conflicting row too.
    statement = statement.on_conflict_do_nothing(index_elements=["event_key"])
    return conn.execute(statement.returning(bounces.c.id)).first() is not None


def count_soft_since(conn: Connection, subscriber_id: int, since: datetime) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(bounces)
            .where(
                (bounces.c.subscriber_id == subscriber_id)
                & (bounces.c.kind == "soft")
                & (bounces.c.received_at >= since)
            )
        ).scalar_one()
    )


def edition_rates(conn: Connection, edition_ids: Sequence[int] | None = None) -> list[EditionRates]:
    """Sent messages and distinct bounced/complaining deliveries per edition (all editions
    with a bounce, or those given), newest first."""
    kinds = (
        select(
            bounces.c.edition_id,
            bounces.c.kind,
            func.count(func.distinct(bounces.c.delivery_id)).label("n"),
        )
        .where(bounces.c.edition_id.is_not(None))
        .group_by(bounces.c.edition_id, bounces.c.kind)
    )
    if edition_ids is not None:
        kinds = kinds.where(bounces.c.edition_id.in_(list(edition_ids)))
    counted: dict[int, dict[str, int]] = {}
    for row in conn.execute(kinds):
        counted.setdefault(row.edition_id, {})[row.kind] = int(row.n)
    if not counted:
        return []
    sent: dict[int, int] = dict(
        conn.execute(
            select(deliveries.c.edition_id, func.count())
            .where(deliveries.c.edition_id.in_(list(counted)) & (deliveries.c.state == "sent"))
            .group_by(deliveries.c.edition_id)
        ).all()
    )
    rows = conn.execute(
        select(editions.c.id, editions.c.cadence, editions.c.period_key, editions.c.state)
        .where(editions.c.id.in_(list(counted)))
        .order_by(editions.c.id.desc())
    )
    return [
        EditionRates(
            row.id,
            row.cadence,
            row.period_key,
            row.state,
            int(sent.get(row.id, 0)),
            counted[row.id].get("hard", 0),
            counted[row.id].get("soft", 0),
            counted[row.id].get("complaint", 0),
        )
        for row in rows
    ]

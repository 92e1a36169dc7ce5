"""Subscriber rows, their chosen categories and consent events; suppressions."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from m5syndicate.models import Subscriber
from m5syndicate.store.engine import inserted_id
from m5syndicate.store.schema import (
    consent_events,
    subscriber_categories,
    subscribers,
    suppressions,
)


def email_key(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def find_subscriber_id(conn: Connection, email: str) -> int | None:
    return conn.execute(
        select(subscribers.c.id).where(subscribers.c.email_key == email_key(email))
    ).scalar_one_or_none()


def is_suppressed(conn: Connection, email: str) -> bool:
    found = conn.execute(
        select(suppressions.c.id).where(suppressions.c.email_hash == email_hash(email))
    ).first()
    return found is not None


def insert_subscriber(
    conn: Connection, subscriber: Subscriber, now: datetime, via: str, consent_version: str
) -> int:
    """Insert one subscriber with its categories and a `subscribe` consent event."""
    values = {
        "email": subscriber.email,
        "email_key": email_key(subscriber.email),
        "name": subscriber.name,
        "language": subscriber.language,
        "cadence": subscriber.cadence,
        "format": subscriber.format,
        "status": subscriber.status,
        "token_version": subscriber.token_version,
        "created_at": now,
        "updated_at": now,
        "confirmed_at": now if subscriber.status == "confirmed" else None,
    }
    subscriber_id = inserted_id(conn.execute(insert(subscribers).values(**values)))
    if subscriber.categories:
        conn.execute(
            insert(subscriber_categories),
            [
                {"subscriber_id": subscriber_id, "slug": slug}
                for slug in sorted(set(subscriber.categories))
            ],
        )
    record_event(conn, subscriber_id, "subscribe", now, via=via, consent_version=consent_version)
    if subscriber.status == "confirmed":
        record_event(conn, subscriber_id, "confirm", now, via=via, consent_version=consent_version)
    return subscriber_id


def record_event(
    conn: Connection,
    subscriber_id: int,
    kind: str,
    at: datetime,
    *,
    via: str,
    consent_version: str = "",
    ip: str = "",
    user_agent: str = "",
    detail: str = "",
) -> None:
    conn.execute(
        insert(consent_events).values(
            subscriber_id=subscriber_id,
            kind=kind,
            at=at,
            via=via,
            consent_version=consent_version,
            ip=ip,
            user_agent=user_agent[:500],
            detail=detail,
        )
    )


def count_by_status(conn: Connection) -> Counter[str]:
    rows = conn.execute(select(subscribers.c.status, func.count()).group_by(subscribers.c.status))
    return Counter({row[0]: int(row[1]) for row in rows})


def count_suppressed(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(suppressions)).scalar_one())

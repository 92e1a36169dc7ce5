"""Subscriber rows, their chosen categories and consent events, the recipients a
delivery reads; suppressions (one writer: `suppress_addresses`).

One named function per query. Addresses are matched by ``email_key`` (lowercased), and
suppressions by the SHA-256 of that key, so `forget` can erase the address itself.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.models import Recipient, Subscriber
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.engine import inserted_id
from m5syndicate.store.schema import (
    consent_events,
    subscriber_categories,
    subscribers,
    suppressions,
)

# Rows per statement when reading or writing many subscribers (bound-parameter limits:
# SQLite allows 32,766 per statement, PostgreSQL 65,535).
BATCH = 1000


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


def suppressed_among(conn: Connection, emails: Sequence[str]) -> set[str]:
    """Which of these addresses are suppressed (matched by hash; the addresses are kept)."""
    by_hash = {email_hash(email): email for email in emails}
    if not by_hash:
        return set()
    rows = conn.execute(
        select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(list(by_hash)))
    )
    return {by_hash[row.email_hash] for row in rows}


def subscriber_values(subscriber: Subscriber, now: datetime) -> dict[str, Any]:
    return {
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


def insert_subscriber(
    conn: Connection,
    subscriber: Subscriber,
    now: datetime,
    via: str,
    consent_version: str,
    *,
    ip: str = "",
    user_agent: str = "",
) -> int:
    """Insert one subscriber with its categories and a `subscribe` consent event (and a
    `confirm` one when added confirmed)."""
    values = subscriber_values(subscriber, now)
    subscriber_id = inserted_id(conn.execute(insert(subscribers).values(**values)))
    replace_categories(conn, subscriber_id, subscriber.categories)
    kinds = ("subscribe", "confirm") if subscriber.status == "confirmed" else ("subscribe",)
    for kind in kinds:
        record_event(
            conn,
            subscriber_id,
            kind,
            now,
            via=via,
            consent_version=consent_version,
            ip=ip,
            user_agent=user_agent,
        )
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
            ip=ip[:64],
            user_agent=user_agent[:500],
            detail=detail,
        )
    )


# -- reading ------------------------------------------------------------------------------


def to_subscriber(row: RowMapping, categories: list[str]) -> Subscriber:
    return Subscriber(
        email=row["email"],
        language=row["language"],
        cadence=row["cadence"],
        format=row["format"],
        status=row["status"],
        name=row["name"],
        categories=categories,
        token_version=row["token_version"],
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
        id=row["id"],
        unsubscribed_at=row["unsubscribed_at"],
        confirm_sent_at=row["confirm_sent_at"],
    )


def get_subscriber(conn: Connection, subscriber_id: int) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).mappings()
    found = row.first()
    if found is None:
        return None
    return to_subscriber(found, categories_of(conn, [subscriber_id])[subscriber_id])


def get_subscriber_by_email(conn: Connection, email: str) -> Subscriber | None:
    subscriber_id = find_subscriber_id(conn, email)
    return None if subscriber_id is None else get_subscriber(conn, subscriber_id)


def categories_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """Each subscriber's category slugs, sorted (an empty list means every category)."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    rows = conn.execute(
        select(subscriber_categories.c.subscriber_id, subscriber_categories.c.slug)
        .where(subscriber_categories.c.subscriber_id.in_(ids))
        .order_by(subscriber_categories.c.slug)
    )
    for subscriber_id, slug in rows:
        found[subscriber_id].append(slug)
    return found


def confirm_token_of(conn: Connection, subscriber_id: int) -> str | None:
    """The stored SHA-256 of the subscriber's outstanding confirmation token, if any."""
    return conn.execute(
        select(subscribers.c.confirm_token_hash).where(subscribers.c.id == subscriber_id)
    ).scalar_one_or_none()


def list_subscribers(
    conn: Connection,
    *,
    status: str | None = None,
    search: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[Subscriber]:
    """A page of subscribers by id; `search` matches part of the address or the name."""
    query = select(subscribers).order_by(subscribers.c.id).limit(limit).offset(offset)
    if status:
        query = query.where(subscribers.c.status == status)
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%") + "%"
        query = query.where(
            or_(
                subscribers.c.email_key.like(pattern, escape="\\"),
                func.lower(subscribers.c.name).like(pattern, escape="\\"),
            )
        )
    rows = conn.execute(query).mappings().all()
    cats = categories_of(conn, [row["id"] for row in rows])
    return [to_subscriber(row, cats[row["id"]]) for row in rows]


def iter_subscribers(conn: Connection, status: str | None = None) -> Iterator[Subscriber]:
    """Every subscriber by id, read in batches so memory stays flat on large lists."""
    after = 0
    while True:
        query = select(subscribers).where(subscribers.c.id > after)
        if status:
            query = query.where(subscribers.c.status == status)
        rows = conn.execute(query.order_by(subscribers.c.id).limit(BATCH)).mappings().all()
        if not rows:
            return
        cats = categories_of(conn, [row["id"] for row in rows])
        yield from (to_subscriber(row, cats[row["id"]]) for row in rows)
        after = rows[-1]["id"]


def events_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The consent events of these subscribers, oldest first."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = conn.execute(
        select(consent_events)
        .where(consent_events.c.subscriber_id.in_(ids))
        .order_by(consent_events.c.at, consent_events.c.id)
    ).mappings()
    for row in rows:
        event = {k: row[k] for k in ("kind", "at", "ip", "user_agent", "via", "consent_version")}
        event["detail"] = row["detail"]
        found[row["subscriber_id"]].append(event)
    return found


# -- recipients: subscribers as the delivery reads them ------------------------------------


def recipients_for(conn: Connection, claims: dict[int, tuple[int, int]]) -> list[Recipient]:
    """subscriber id -> (delivery id, attempts) becomes Recipients, in delivery order."""
    if not claims:
        return []
    ids = list(claims)
    rows = conn.execute(
        select(
            subscribers.c.id,
            subscribers.c.email,
            subscribers.c.language,
            subscribers.c.format,
            subscribers.c.status,
            subscribers.c.token_version,
        ).where(subscribers.c.id.in_(ids))
    ).all()
    chosen = categories_of(conn, ids)
    found = [
        Recipient(
            delivery_id=claims[row.id][0],
            subscriber_id=row.id,
            email=row.email,
            language=row.language,
            format=row.format,
            status=row.status,
            token_version=row.token_version,
            categories=tuple(chosen.get(row.id, ())),
            attempts=claims[row.id][1],
        )
        for row in rows
    ]
    return sorted(found, key=lambda recipient: recipient.delivery_id)


def subscribers_of_cadence(
    conn: Connection, cadence: str, batch: int = 1000
) -> Iterator[list[Recipient]]:
    """Confirmed subscribers of a cadence in batches (keyset paging), for dry runs."""
    after = 0
    while True:
        rows = conn.execute(
            select(subscribers.c.id)
            .where(
                (subscribers.c.status == "confirmed")
                & (subscribers.c.cadence == cadence)
                & (subscribers.c.id > after)
            )
            .order_by(subscribers.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        yield recipients_for(conn, {row.id: (0, 0) for row in rows})


def find_recipient(conn: Connection, email: str) -> Recipient | None:
    """A subscriber by address (any status), as a Recipient outside the ledger."""
    found = conn.execute(
        select(subscribers.c.id).where(subscribers.c.email_key == email_key(email))
    ).scalar_one_or_none()
    return None if found is None else recipients_for(conn, {found: (0, 0)})[0]


def has_recipients(conn: Connection, cadence: str) -> bool:
    """Is anyone confirmed on this cadence (else no edition is worth freezing)?"""
    found = conn.execute(
        select(subscribers.c.id)
        .where((subscribers.c.status == "confirmed") & (subscribers.c.cadence == cadence))
        .limit(1)
    ).first()
    return found is not None


# -- changing -----------------------------------------------------------------------------


def replace_categories(conn: Connection, subscriber_id: int, slugs: Iterable[str]) -> None:
    conn.execute(
        delete(subscriber_categories).where(subscriber_categories.c.subscriber_id == subscriber_id)
    )
    rows = [{"subscriber_id": subscriber_id, "slug": slug} for slug in sorted(set(slugs))]
    if rows:
        conn.execute(insert(subscriber_categories), rows)


def update_preferences(conn: Connection, subscriber: Subscriber, now: datetime) -> None:
    """Write language, cadence, format and categories of an existing subscriber."""
    assert subscriber.id is not None
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber.id)
        .values(
            language=subscriber.language,
            cadence=subscriber.cadence,
            format=subscriber.format,
            updated_at=now,
        )
    )
    replace_categories(conn, subscriber.id, subscriber.categories)


def set_confirm_token(
    conn: Connection, subscriber_id: int, token_hash: str | None, now: datetime
) -> None:
    """Store a new confirmation token's hash and when it was sent."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(confirm_token_hash=token_hash, confirm_sent_at=now, updated_at=now)
    )


def set_status(conn: Connection, subscriber_id: int, status: str, now: datetime) -> None:
    """Move to pending, confirmed or unsubscribed. A used confirmation token's hash stays
    while the subscriber is confirmed (a second click on the link says so, and links the
    preferences); unsubscribing clears it."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "confirmed":
        values |= {"confirmed_at": now, "unsubscribed_at": None}
    elif status == "unsubscribed":
        values |= {"unsubscribed_at": now, "confirm_token_hash": None}
    conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))


def delete_subscriber(conn: Connection, subscriber_id: int) -> None:
    """Erase the row; categories, consent events and deliveries go with it (cascade)."""
    conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


def suppress_addresses(
    conn: Connection, emails: Sequence[str], reason: str, via: str, now: datetime
) -> int:
    """Never mail these addresses again; returns how many were not suppressed yet.

    The one writer of the suppressions table. INSERT ... ON CONFLICT DO NOTHING: an
    address suppressed already (or by a concurrent writer) stays as it was.
    """
    rows = [
        {"email_hash": email_hash(email), "reason": reason[:500], "via": via, "created_at": now}
        for email in sorted(set(emails))
    ]
    if not rows:
        return 0
    statement = (
        insert_on_conflict(conn, suppressions)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["email_hash"])
        .returning(suppressions.c.id)  # only the rows written (rowcount is -1 on psycopg)
    )
    return len(conn.execute(statement).all())


def remove_suppression(conn: Connection, email: str) -> str | None:
    """Mail this address again; returns the suppression's reason, None if there was none."""
    found = conn.execute(
        select(suppressions.c.id, suppressions.c.reason).where(
            suppressions.c.email_hash == email_hash(email)
        )
    ).first()
    if found is None:
        return None
    conn.execute(delete(suppressions).where(suppressions.c.id == found.id))
    return str(found.reason)


# -- bulk import --------------------------------------------------------------------------


def existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of these lowercased addresses are already subscribers."""
    rows = conn.execute(select(subscribers.c.email_key).where(subscribers.c.email_key.in_(keys)))
    return {row[0] for row in rows}


def suppressed_hashes(conn: Connection, hashes: Sequence[str]) -> set[str]:
    rows = conn.execute(
        select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(hashes))
    )
    return {row[0] for row in rows}


def insert_many(
    conn: Connection, batch: Sequence[Subscriber], now: datetime, via: str, consent_version: str
) -> None:
    """Insert new subscribers: rows, then their ids, categories and consent events.

    The caller has filtered out existing and suppressed addresses.
    """
    if not batch:
        return
    keys = [email_key(s.email) for s in batch]
    rows = [
        {
            "email": s.email,
            "email_key": key,
            "name": s.name,
            "language": s.language,
            "cadence": s.cadence,
            "format": s.format,
            "status": s.status,
            "token_version": s.token_version,
        }
        for s, key in zip(batch, keys, strict=True)
    ]
    bulk_insert(conn, subscribers, rows, {"created_at": now, "updated_at": now})
    confirmed = [key for s, key in zip(batch, keys, strict=True) if s.status == "confirmed"]
    if confirmed:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.email_key.in_(confirmed))
            .values(confirmed_at=now)
        )
    found = conn.execute(
        select(subscribers.c.email_key, subscribers.c.id).where(subscribers.c.email_key.in_(keys))
    )
    ids = {key: subscriber_id for key, subscriber_id in found}
    links = [
        {"subscriber_id": ids[key], "slug": slug}
        for key, s in zip(keys, batch, strict=True)
        for slug in sorted(set(s.categories))
    ]
    bulk_insert(conn, subscriber_categories, links, {})
    # One event per imported row: the admin asserts the consent (and, for rows marked
    # confirmed, the confirmation) that was collected elsewhere.
    events = [
        {"subscriber_id": ids[key], "detail": s.status} for key, s in zip(keys, batch, strict=True)
    ]
    event = {"kind": "import", "at": now, "via": via, "consent_version": consent_version}
    bulk_insert(conn, consent_events, events, {**event, "ip": "", "user_agent": ""})


def bulk_insert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], same: dict[str, Any]
) -> None:
    """INSERT many rows through the driver's executemany.

    SQLAlchemy's own executemany converts every value of every row (a third of an
    import's time); here the values common to all rows (`same`, such as timestamps) are
    converted once, and the per-row values are plain texts and integers, which no
    dialect converts. Rows must all have the same keys.
    """
    if not rows:
        return
    names = [*rows[0], *same]
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    converted = {name: convert(table, name, value, conn) for name, value in same.items()}
    params = [{**row, **converted} for row in rows]
    if compiled.positiontup is not None:
        order = compiled.positiontup
        conn.exec_driver_sql(compiled.string, [tuple(p[n] for n in order) for p in params])
    else:
        conn.exec_driver_sql(compiled.string, params)


def convert(table: Table, name: str, value: Any, conn: Connection) -> Any:
    processor = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


# -- counts -------------------------------------------------------------------------------


def count_by_status(conn: Connection) -> Counter[str]:
    rows = conn.execute(select(subscribers.c.status, func.count()).group_by(subscribers.c.status))
    return Counter({row[0]: int(row[1]) for row in rows})


def count_suppressed(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(suppressions)).scalar_one())

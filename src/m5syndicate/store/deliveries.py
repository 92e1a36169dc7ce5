"""The delivery ledger: one row per (edition, subscriber). See DESIGN.md.

pending -> sending (claimed with a lease) -> sent | failed | skipped | unknown (sent in
full, no reply; counted as sent). Claims take rows that are due, or whose lease ran out
(their sender died), with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent senders
never take the same row; on SQLite the claiming UPDATE is one write transaction, which the
database serialises. Outcomes are written in batches (executemany), never one transaction
per mail.

Claims take rows only while their edition is "sending": a pause or hold written by anyone
(the guard rail, the console, another sender) stops every running sender at its next
claim. The check is one uncorrelated EXISTS on the editions primary key, evaluated once
per claim statement (an InitPlan on PostgreSQL), not per row: free at a million rows.

Row locks (PostgreSQL) are taken in one order, by id, so claims, renewals and outcome
writes cannot deadlock: claims and renewals skip rows locked by others (SKIP LOCKED: they
never wait), and an outcome batch locks its rows by id before it writes them.

``attempts`` counts real tries: it grows when an outcome says the recipient was offered
to the relay, never at claim time, so a crash or a release costs no attempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.engine import Connection

from m5syndicate.models import Recipient
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.schema import deliveries, edition_articles, editions, subscribers
from m5syndicate.store.subscribers import recipients_for, suppress_addresses

FINAL_STATES = ("sent", "failed", "skipped", "unknown")
DELIVERED_STATES = ("sent", "unknown")  # what reached (or most likely reached) the person


@dataclass
class Outcome:
    """What happened to one claimed delivery; written with others in one batch."""

    delivery_id: int
    subscriber_id: int
    state: str  # sent, failed, skipped, pending (retry later), released (untouched)
    error: str = ""
    smtp_code: int | None = None
    message_id: str = ""
    next_attempt_at: datetime | None = None
    articles: Sequence[tuple[int, str]] = field(default_factory=tuple)  # (id, content hash)
    email: str = ""
    suppress: bool = False  # a hard bounce (5.1.x): never mail this address again
    attempted: bool = True  # offered to the relay: counts as one attempt


def populate_deliveries(conn: Connection, edition_id: int, cadence: str, now: datetime) -> int:
    """A pending row for every confirmed subscriber of the cadence who has none yet.

    One INSERT ... SELECT: a million subscribers never pass through Python.
    """
    chosen = select(
        literal(edition_id),
        subscribers.c.id,
        literal("pending"),
        literal(0),
        literal(""),
        literal(""),
        literal(""),
        literal(now, deliveries.c.created_at.type),
    ).where((subscribers.c.status == "confirmed") & (subscribers.c.cadence == cadence))
    columns = [
        "edition_id",
        "subscriber_id",
        "state",
        "attempts",
        "claimed_by",
        "last_error",
        "message_id",
        "created_at",
    ]
    statement = (
        insert_on_conflict(conn, deliveries)
        .from_select(columns, chosen)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    return int(conn.execute(statement).rowcount or 0)


def claimable(edition_id: int, now: datetime) -> Any:
    """Rows due now: pending and past their retry time, or sending with a dead lease."""
    return (deliveries.c.edition_id == edition_id) & or_(
        and_(
            deliveries.c.state == "pending",
            or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
        ),
        and_(deliveries.c.state == "sending", deliveries.c.lease_until < now),
    )


def being_sent(edition_id: int) -> Any:
    """The edition may be sent now (not paused, held or done)."""
    return exists(
        select(editions.c.id).where((editions.c.id == edition_id) & (editions.c.state == "sending"))
    )


def claim_batch(
    conn: Connection,
    edition_id: int,
    worker: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[Recipient]:
    """Take up to ``limit`` due deliveries for ``worker``, with their subscribers."""
    chosen = (
        select(deliveries.c.id)
        .where(claimable(edition_id, now) & being_sent(edition_id))
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(chosen.scalar_subquery()))
        .values(
            state="sending",
            claimed_by=worker,
            lease_until=lease_until,
        )
        .returning(deliveries.c.id, deliveries.c.subscriber_id, deliveries.c.attempts)
    ).all()
    return recipients_for(conn, {row.subscriber_id: (row.id, row.attempts) for row in claimed})


def delivered_hashes(
    conn: Connection,
    subscriber_ids: Sequence[int],
    article_ids: Sequence[int],
    edition_id: int | None = None,
) -> dict[int, dict[int, str]]:
    """For each subscriber: the articles of this list already mailed to them, with the
    start of the content hash they had then (SENT_HASH_DIGITS; see same_content).

    Read from their deliveries in the editions other than ``edition_id`` (the one being
    sent) that carried any of these articles (edition_articles by article): for a new
    edition of new articles that is no edition at all, and the read costs one index
    probe, not one per subscriber and article."""
    found: dict[int, dict[int, str]] = {}
    if not subscriber_ids or not article_ids:
        return found
    parameters = {
        "d_subscribers": list(subscriber_ids),
        "d_articles": list(article_ids),
        "d_edition": -1 if edition_id is None else edition_id,
    }
    rows = conn.execute(PREVIOUS_DELIVERIES, parameters)
    wanted = set(article_ids)
    for row in rows:  # in the order they were sent: a later mail's hash replaces one before
        marks = found.setdefault(row.subscriber_id, {})
        marks.update((k, v) for k, v in decode_sent_articles(row.sent_articles) if k in wanted)
    return found


# The ledger keeps what reached whom on the delivery row itself, written in the same
# UPDATE as its state: "id:hash id:hash ...", each hash cut to its first
# SENT_HASH_DIGITS hex digits (64 bits tell an edit from the text that was sent; the
# whole 64 would quadruple the column). Ten rows per message in a table of their own
# cost PostgreSQL more CPU than the rest of the ledger (BENCHMARKS.md).
SENT_HASH_DIGITS = 16
# Only delivered rows have sent_articles. Not "state IN (sent, unknown)": with that, a
# planner whose statistics say few rows are sent walks (edition_id, state) over every
# sent row of an edition instead of probing (edition_id, subscriber_id).
EARLIER_EDITIONS = (
    select(edition_articles.c.edition_id)
    .where(
        edition_articles.c.article_id.in_(bindparam("d_articles", expanding=True))
        & (edition_articles.c.edition_id != bindparam("d_edition"))
    )
    .distinct()
)
PREVIOUS_DELIVERIES = (
    select(deliveries.c.subscriber_id, deliveries.c.sent_articles)
    .where(
        deliveries.c.subscriber_id.in_(bindparam("d_subscribers", expanding=True))
        & deliveries.c.edition_id.in_(EARLIER_EDITIONS)
        & (deliveries.c.sent_articles != "")
    )
    .order_by(deliveries.c.sent_at, deliveries.c.id)  # the latest mail's hash wins
)


def encode_sent_articles(pairs: Sequence[tuple[int, str]]) -> str:
    return " ".join(f"{article_id}:{digest[:SENT_HASH_DIGITS]}" for article_id, digest in pairs)


def decode_sent_articles(encoded: str) -> list[tuple[int, str]]:
    pairs = []
    for item in encoded.split():
        article_id, _, digest = item.partition(":")
        pairs.append((int(article_id), digest))
    return pairs


def record_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], now: datetime, worker: str = ""
) -> list[Outcome]:
    """Write a batch of outcomes: final states, retries, releases, and what reached whom.

    Returns the outcomes that applied, so counts add up to the edition: a row finished
    already (its lease ran out and another sender finished it) is left as it is, and a
    row another sender has claimed since is theirs to retry or release (only what
    happened, sent or failed, is still written).

    Every statement is built once (below) with expanding parameters: building and
    cache-keying SQLAlchemy constructs per batch cost more CPU than the database's work
    (profiled in BENCHMARKS.md, Send at wire speed)."""
    held = lock_in_order(conn, sorted(o.delivery_id for o in outcomes))
    outcomes = [o for o in outcomes if applies(o, held.get(o.delivery_id), worker)]
    outcomes.sort(key=lambda outcome: outcome.delivery_id)
    finals = [o for o in outcomes if o.state in FINAL_STATES]
    retries = [o for o in outcomes if o.state == "pending"]
    released = [o.delivery_id for o in outcomes if o.state == "released"]
    sent = [o for o in finals if o.state in DELIVERED_STATES]
    record_sent(conn, sent, now)
    others = [o for o in finals if o.state not in DELIVERED_STATES]
    if others:
        conn.execute(
            RECORD_FINAL,
            [
                {
                    "d_id": o.delivery_id,
                    "d_state": o.state,
                    "d_error": o.error[:1000],
                    "d_code": o.smtp_code,
                    "d_tried": int(o.attempted),
                }
                for o in others
            ],
        )
    if retries:
        conn.execute(
            RECORD_RETRY,
            [
                {
                    "d_id": o.delivery_id,
                    "d_error": o.error[:1000],
                    "d_code": o.smtp_code,
                    "d_next": o.next_attempt_at,
                    "d_tried": int(o.attempted),
                }
                for o in retries
            ],
        )
    if released:
        release_rows(conn, released)
    bounced = [o for o in finals if o.suppress and o.email]
    for outcome in bounced:
        suppress_addresses(conn, [outcome.email], outcome.error, "bounce", now)
    return outcomes


SENDING = deliveries.c.state == "sending"
RECORD_FINAL = (
    update(deliveries)
    .where((deliveries.c.id == bindparam("d_id")) & SENDING)
    .values(
        state=bindparam("d_state"),
        last_error=bindparam("d_error"),
        smtp_code=bindparam("d_code"),
        lease_until=None,
        attempts=deliveries.c.attempts + bindparam("d_tried"),
    )
)
RECORD_RETRY = (
    update(deliveries)
    .where((deliveries.c.id == bindparam("d_id")) & SENDING)
    .values(
        state="pending",
        last_error=bindparam("d_error"),
        smtp_code=bindparam("d_code"),
        next_attempt_at=bindparam("d_next"),
        lease_until=None,
        attempts=deliveries.c.attempts + bindparam("d_tried"),
    )
)
# Sent (and unknown) rows, one executemany: each row's own state, code and Message-ID.
RECORD_SENT = (
    update(deliveries)
    .where((deliveries.c.id == bindparam("d_id")) & SENDING)
    .values(
        state=bindparam("d_state"),
        sent_at=bindparam("d_now", type_=deliveries.c.sent_at.type),
        smtp_code=bindparam("d_code"),
        message_id=bindparam("d_message_id"),
        last_error=bindparam("d_error"),
        sent_articles=bindparam("d_articles"),
        lease_until=None,
        attempts=deliveries.c.attempts + 1,
    )
)
LOCK_ROWS = (
    select(deliveries.c.id, deliveries.c.state, deliveries.c.claimed_by)
    .where(deliveries.c.id.in_(bindparam("d_ids", expanding=True)))
    .order_by(deliveries.c.id)
    .with_for_update()
)
RELEASE_ROWS = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("d_ids", expanding=True)) & SENDING)
    .values(state="pending", lease_until=None)
)


def applies(outcome: Outcome, row: tuple[str, str] | None, worker: str) -> bool:
    """Is this outcome still ours to write, given the row's (state, claimed_by)?"""
    if row is None or row[0] != "sending":
        return False
    return outcome.state in FINAL_STATES or not worker or row[1] == worker


def lock_in_order(conn: Connection, delivery_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """PostgreSQL: lock a batch's rows by id before writing them (the one lock order);
    elsewhere FOR UPDATE is not rendered and the write transaction serialises.
    Returns each row's (state, claimed_by)."""
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(delivery_ids), 500):
        rows = conn.execute(LOCK_ROWS, {"d_ids": list(delivery_ids[start : start + 500])})
        found.update({row.id: (row.state, row.claimed_by) for row in rows})
    return found


def record_sent(conn: Connection, sent: Sequence[Outcome], now: datetime) -> None:
    """Sent (and unknown) rows: state, time, reply code, Message-ID and the articles the
    message carried. Each counts one attempt."""
    if sent:
        conn.execute(
            RECORD_SENT,
            [
                {
                    "d_id": o.delivery_id,
                    "d_state": o.state,
                    "d_now": now,
                    "d_code": o.smtp_code,
                    "d_message_id": o.message_id,
                    "d_error": o.error[:1000],
                    "d_articles": encode_sent_articles(o.articles),
                }
                for o in sent
            ],
        )


def release_rows(conn: Connection, delivery_ids: Sequence[int]) -> None:
    """Give claimed rows back untouched (no attempt was made)."""
    for start in range(0, len(delivery_ids), 500):
        conn.execute(RELEASE_ROWS, {"d_ids": list(delivery_ids[start : start + 500])})


def renew_leases(conn: Connection, edition_id: int, worker: str, until: datetime) -> int:
    """Extend this worker's leases. Rows locked right now (an outcome being written for
    them) are skipped, not waited for: waiting is how the renewer once deadlocked."""
    held = (
        select(deliveries.c.id)
        .where(
            (deliveries.c.edition_id == edition_id)
            & (deliveries.c.claimed_by == worker)
            & (deliveries.c.state == "sending")
        )
        .order_by(deliveries.c.id)
        .with_for_update(skip_locked=True)
    )
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(held.scalar_subquery()) & (deliveries.c.state == "sending"))
        .values(lease_until=until)
    )
    return int(result.rowcount or 0)


def earliest_unrenewed_lease(
    conn: Connection, edition_id: int, worker: str, until: datetime
) -> datetime | None:
    """When the first of this worker's claimed rows that a renewal to ``until`` skipped
    (another transaction held it locked) loses its lease; None when none was skipped.
    Read after the renewal committed."""
    return conn.execute(
        select(func.min(deliveries.c.lease_until)).where(
            (deliveries.c.edition_id == edition_id)
            & (deliveries.c.claimed_by == worker)
            & (deliveries.c.state == "sending")
            & (deliveries.c.lease_until < until)
        )
    ).scalar_one_or_none()


def release_worker(conn: Connection, edition_id: int, worker: str) -> int:
    """On a clean stop: every row this worker still holds goes back to pending."""
    result = conn.execute(
        update(deliveries)
        .where(
            (deliveries.c.edition_id == edition_id)
            & (deliveries.c.claimed_by == worker)
            & (deliveries.c.state == "sending")
        )
        .values(state="pending", lease_until=None)
    )
    return int(result.rowcount or 0)


def retry_failed(conn: Connection, edition_id: int) -> int:
    """Failed deliveries of an edition become pending again, with fresh attempts."""
    result = conn.execute(
        update(deliveries)
        .where((deliveries.c.edition_id == edition_id) & (deliveries.c.state == "failed"))
        .values(state="pending", attempts=0, next_attempt_at=None, lease_until=None)
    )
    return int(result.rowcount or 0)


def edition_counts(conn: Connection, edition_id: int) -> Counter[str]:
    rows = conn.execute(
        select(deliveries.c.state, func.count())
        .where(deliveries.c.edition_id == edition_id)
        .group_by(deliveries.c.state)
    )
    return Counter({row[0]: int(row[1]) for row in rows})


def next_due_at(conn: Connection, edition_id: int) -> datetime | None:
    """When the earliest unfinished delivery can next be claimed: a pending row's retry
    time, or the end of a claimed row's lease (its sender may have died). None: all done.
    """
    retry = conn.execute(
        select(
            func.min(func.coalesce(deliveries.c.next_attempt_at, deliveries.c.created_at))
        ).where((deliveries.c.edition_id == edition_id) & (deliveries.c.state == "pending"))
    ).scalar_one_or_none()
    lease = conn.execute(
        select(func.min(deliveries.c.lease_until)).where(
            (deliveries.c.edition_id == edition_id) & (deliveries.c.state == "sending")
        )
    ).scalar_one_or_none()
    times = [moment for moment in (retry, lease) if moment is not None]
    return min(times) if times else None


def failed_deliveries(conn: Connection, edition_id: int) -> list[tuple[str, int | None, str]]:
    """(address, SMTP code, reply) of every failed delivery of an edition."""
    rows = conn.execute(
        select(subscribers.c.email, deliveries.c.smtp_code, deliveries.c.last_error)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where((deliveries.c.edition_id == edition_id) & (deliveries.c.state == "failed"))
        .order_by(deliveries.c.id)
    )
    return [(row.email, row.smtp_code, row.last_error) for row in rows]


def count_sent_since(conn: Connection, since: datetime) -> int:
    """Messages sent since a time, across editions (for the daily cap)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.state.in_(DELIVERED_STATES) & (deliveries.c.sent_at >= since))
        ).scalar_one()
    )

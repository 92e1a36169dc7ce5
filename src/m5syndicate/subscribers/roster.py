"""Admin use cases over the subscriber list: remove, suppress, forget, list, show, stats.

Shared by `m5syndicate subscribers ...` and the admin API. Adding one subscriber is
``subscriptions.add_subscriber``; CSV import and export are in ``csvio.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from m5syndicate.errors import InputError, NotFound
from m5syndicate.models import SUBSCRIBER_STATES, Subscriber
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers.subscriptions import Consent, normalize_email, record

MAX_PAGE = 1000


def address_of(text: str) -> str:
    """The address as stored, when it is valid; the text as typed otherwise (so that an
    address stored before validation existed can still be removed or forgotten)."""
    try:
        return normalize_email(text)
    except InputError:
        return text.strip()


def remove(engine: Engine, email: str, now: datetime, consent: Consent) -> bool:
    """Unsubscribe an address (its consent record is kept); False if it is not there or
    already unsubscribed. To erase it, `forget`."""
    with engine.begin() as conn:
        subscriber = subscriber_store.get_subscriber_by_email(conn, address_of(email))
        if subscriber is None:
            raise NotFound(f"subscribers: no subscriber {email[:80]!r}; see `subscribers list`")
        if subscriber.status == "unsubscribed" or subscriber.id is None:
            return False
        subscriber_store.set_status(conn, subscriber.id, "unsubscribed", now)
        record(conn, subscriber.id, "unsubscribe", now, consent)
        return True


def suppress(engine: Engine, email: str, now: datetime, consent: Consent, reason: str) -> bool:
    """Never mail this address again (its subscription, if any, ends); False if it was
    suppressed already."""
    address = address_of(email)
    with engine.begin() as conn:
        added = subscriber_store.suppress_addresses(conn, [address], reason, consent.via, now) > 0
        subscriber = subscriber_store.get_subscriber_by_email(conn, address)
        if subscriber is not None and subscriber.id is not None:
            if subscriber.status != "unsubscribed":
                subscriber_store.set_status(conn, subscriber.id, "unsubscribed", now)
            record(conn, subscriber.id, "suppress", now, consent, reason)
        return added


def unsuppress(engine: Engine, email: str, now: datetime, consent: Consent) -> str | None:
    """Undo a suppression (a hard bounce read wrongly, an admin's mistake); recorded as an
    `unsuppress` consent event. The subscription is not restarted: one that a suppression
    ended needs the person's new consent. Returns the reason it was suppressed, or None
    if it was not."""
    address = address_of(email)
    with engine.begin() as conn:
        reason = subscriber_store.remove_suppression(conn, address)
        subscriber = subscriber_store.get_subscriber_by_email(conn, address)
        if reason is not None and subscriber is not None and subscriber.id is not None:
            record(conn, subscriber.id, "unsuppress", now, consent, f"was: {reason}"[:500])
        return reason


def forget(engine: Engine, email: str, now: datetime, via: str) -> bool:
    """Erase the address and everything about it (preferences, consent events, ledger
    rows); keep only its SHA-256 among the suppressions so it is never mailed again.
    Returns whether a subscriber was erased."""
    address = address_of(email)
    with engine.begin() as conn:
        subscriber_store.suppress_addresses(conn, [address], "forgotten on request", via, now)
        subscriber_id = subscriber_store.find_subscriber_id(conn, address)
        if subscriber_id is None:
            return False
        subscriber_store.delete_subscriber(conn, subscriber_id)
        return True


def list_subscribers(
    engine: Engine, status: str | None = None, search: str = "", limit: int = 100, offset: int = 0
) -> list[Subscriber]:
    if status is not None and status not in SUBSCRIBER_STATES:
        raise InputError(f"status {status[:20]!r}: use one of {', '.join(SUBSCRIBER_STATES)}")
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= 10**9:
        raise InputError(f"limit must be 1..{MAX_PAGE} and offset 0..1000000000")
    with engine.connect() as conn:
        return subscriber_store.list_subscribers(
            conn, status=status, search=search, limit=limit, offset=offset
        )


def iter_subscribers(engine: Engine, status: str | None = None) -> Iterator[Subscriber]:
    with engine.connect() as conn:
        yield from subscriber_store.iter_subscribers(conn, status)


@dataclass
class SubscriberRecord:
    subscriber: Subscriber
    events: list[dict[str, Any]]


def show(engine: Engine, subscriber_id: int) -> SubscriberRecord:
    with engine.connect() as conn:
        subscriber = None
        if 1 <= subscriber_id < 2**63:  # larger ids overflow the column: none exist
            subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        if subscriber is None:
            raise NotFound(f"subscribers: no subscriber with id {subscriber_id}")
        events = subscriber_store.events_of(conn, [subscriber_id])[subscriber_id]
        return SubscriberRecord(subscriber, events)


def stats(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = subscriber_store.count_by_status(conn)
        suppressed = subscriber_store.count_suppressed(conn)
    return {**{state: counts[state] for state in SUBSCRIBER_STATES}, "suppressed": suppressed}

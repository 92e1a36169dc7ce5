"""Subscription use cases shared by the CLI, the web app and the admin API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.errors import InputError
from m5syndicate.models import Subscriber
from m5syndicate.store import subscribers as subscriber_store


def check_choices(subscriber: Subscriber) -> None:
    if subscriber.language not in LANGUAGES:
        raise InputError(f"language {subscriber.language!r}: use one of {', '.join(LANGUAGES)}")
    if subscriber.cadence not in CADENCES:
        raise InputError(f"cadence {subscriber.cadence!r}: use one of {', '.join(CADENCES)}")
    if subscriber.format not in ("html", "text"):
        raise InputError(f"format {subscriber.format!r}: use html or text")


def add_subscriber(
    engine: Engine, subscriber: Subscriber, now: datetime, via: str, consent_version: str
) -> tuple[int | None, str]:
    """Add one subscriber unless present or suppressed; return (id, what happened)."""
    check_choices(subscriber)
    with engine.begin() as conn:
        if subscriber_store.is_suppressed(conn, subscriber.email):
            return None, "suppressed"
        existing = subscriber_store.find_subscriber_id(conn, subscriber.email)
        if existing is not None:
            return existing, "exists"
        new_id = subscriber_store.insert_subscriber(conn, subscriber, now, via, consent_version)
        return new_id, "added"

"""Subscription use cases shared by the CLI, the web app and the admin API.

A person: `subscribe` (double opt-in), `confirm`, `change_preferences`, `unsubscribe`,
`resubscribe`. Every change is a consent event (time, IP, user agent, via, consent text
version). Admin use cases live in ``roster.py``; CSV import/export in ``csvio.py``.

`subscribe` never tells its caller's caller whether the address existed: it returns the
same kind of answer for a new, pending, confirmed or suppressed address, and the web page
is identical in every case.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from sqlalchemy.engine import Connection, Engine

from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.errors import ConstraintViolation, InputError
from m5syndicate.models import Category, Subscriber
from m5syndicate.store import articles as article_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers import tokens
from m5syndicate.subscribers.links import verify_token

# RFC 5322 dot-atom of ASCII characters, at most 64 long: what email-validator accepts
# unchanged as a local part (it lowercases only the mailbox names below).
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_LOCAL_PART = re.compile(rf"{ATEXT}(?:\.{ATEXT})*")
CONTROL_OR_BROKEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # Cc and lone surrogates
SLUG = re.compile(r"[^\W_][\w-]*")  # letters (any script), digits, - and _
FORMATS = ("html", "text")
RESEND_AFTER = timedelta(minutes=10)  # at most one confirmation mail per address per window
MAX_EMAIL = 254  # RFC 5321 path limit
MAX_NAME = 200
MAX_SLUG = 200
MAX_CATEGORIES = 100


@dataclass(frozen=True)
class Consent:
    """Who asked, from where, under which consent text: stored with every event."""

    via: str  # web, mail, cli, import, api, demo
    version: str = ""
    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class Preferences:
    language: str = "tr"
    cadence: str = "daily"
    format: str = "html"
    categories: tuple[str, ...] = ()  # empty: every category


@dataclass(frozen=True)
class Confirmation:
    """A confirmation mail to send: the token exists only here and in that mail."""

    subscriber_id: int
    email: str
    language: str
    token: str


@dataclass(frozen=True)
class SubscribeOutcome:
    status: str  # added, pending (again), exists (confirmed), suppressed
    subscriber_id: int | None = None
    confirmation: Confirmation | None = field(default=None, repr=False)
    # exists: the confirmed subscriber, to mail their own preferences link (never shown)
    returning: Subscriber | None = field(default=None, repr=False)


# -- input checks -------------------------------------------------------------------------


def normalize_email(text: str) -> str:
    """A syntactically valid address (IDN domains allowed), or InputError saying why.

    No DNS lookups: a slow or absent resolver must not slow the form or the import.
    """
    text = text.strip()
    if len(text) > MAX_EMAIL:
        raise InputError(f"email: longer than {MAX_EMAIL} characters")
    if "=?" in text:  # an RFC 2047 encoded word has no place in an address
        raise InputError("email: encoded words (=?...?=) are not allowed in an address")
    local, _, domain = text.rpartition("@")
    if len(local) > 64:
        raise InputError("email: the part before @ is longer than 64 characters (RFC 5321)")
    if PLAIN_LOCAL_PART.fullmatch(local) and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES:
        # The common case, fast (imports of 100,000 rows): a plain ASCII local part is
        # valid as it is, and the domain's verdict is cached (many share a domain).
        return f"{local}@{normalized_domain(domain)}"
    return validated(text)


def validated(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InputError(f"email: {text[:80]!r} is not a valid address: {exc}") from None
    return str(result.normalized)


@lru_cache(maxsize=4096)
def normalized_domain(domain: str) -> str:
    return validated(f"a@{domain}").rpartition("@")[2]


def clean_text(value: str, what: str, limit: int) -> str:
    """Free text (a name): bounded, one line, no control characters, valid Unicode."""
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"{what}: longer than {limit} characters")
    if CONTROL_OR_BROKEN.search(value):
        raise InputError(f"{what}: contains control characters or broken Unicode")
    return value


def check_slug(slug: str) -> str:
    if len(slug) > MAX_SLUG or not SLUG.fullmatch(slug):
        raise InputError(f"category {slug[:40]!r}: use a category slug like defence-news")
    return slug


def check_preferences(prefs: Preferences) -> Preferences:
    if prefs.language not in LANGUAGES:
        raise InputError(f"language {prefs.language[:20]!r}: use one of {', '.join(LANGUAGES)}")
    if prefs.cadence not in CADENCES:
        raise InputError(f"cadence {prefs.cadence[:20]!r}: use one of {', '.join(CADENCES)}")
    if prefs.format not in FORMATS:
        raise InputError(f"format {prefs.format[:20]!r}: use html or text")
    if len(prefs.categories) > MAX_CATEGORIES:
        raise InputError(f"categories: at most {MAX_CATEGORIES}")
    if not prefs.categories:
        return prefs
    return replace(prefs, categories=tuple(sorted({check_slug(c) for c in prefs.categories})))


def check_choices(subscriber: Subscriber) -> None:
    check_preferences(preferences_of(subscriber))


def preferences_of(subscriber: Subscriber) -> Preferences:
    return Preferences(
        subscriber.language, subscriber.cadence, subscriber.format, tuple(subscriber.categories)
    )


def with_preferences(subscriber: Subscriber, prefs: Preferences) -> Subscriber:
    return replace(
        subscriber,
        language=prefs.language,
        cadence=prefs.cadence,
        format=prefs.format,
        categories=list(prefs.categories),
    )


def record(
    conn: Connection,
    subscriber_id: int,
    kind: str,
    now: datetime,
    consent: Consent,
    detail: str = "",
) -> None:
    subscriber_store.record_event(
        conn,
        subscriber_id,
        kind,
        now,
        via=consent.via,
        consent_version=consent.version,
        ip=consent.ip,
        user_agent=consent.user_agent,
        detail=detail,
    )


def add_subscriber(
    engine: Engine, subscriber: Subscriber, now: datetime, via: str, consent_version: str
) -> tuple[int | None, str]:
    """Add one subscriber as given (an admin's act: no confirmation mail); return (id,
    what happened): added, exists or suppressed."""
    check_choices(subscriber)
    subscriber = replace(subscriber, email=normalize_email(subscriber.email))
    subscriber.name = clean_text(subscriber.name, "name", MAX_NAME)
    with engine.begin() as conn:
        if subscriber_store.is_suppressed(conn, subscriber.email):
            return None, "suppressed"
        existing = subscriber_store.find_subscriber_id(conn, subscriber.email)
        if existing is not None:
            return existing, "exists"
        new_id = subscriber_store.insert_subscriber(conn, subscriber, now, via, consent_version)
        return new_id, "added"


def available_categories(engine: Engine) -> list[Category]:
    """The categories a person can choose: those of the collected articles."""
    with engine.connect() as conn:
        return article_store.list_categories(conn)


def check_known_categories(slugs: Iterable[str], known: Collection[str]) -> None:
    """InputError when a slug is not one of ``known`` (what `available_categories` gives,
    the choices of the subscribe form), listing the known ones: a subscriber with only
    unknown categories would never get an article."""
    unknown = [slug for slug in slugs if slug not in known]
    if not unknown:
        return
    named = ", ".join(repr(slug[:40]) for slug in unknown[:5])
    if not known:
        raise InputError(
            f"category {named}: no category is known yet (they come from the collected "
            "articles); run `m5syndicate collect` first, or choose no category to get all"
        )
    close = difflib.get_close_matches(unknown[0], known, n=1)
    guess = f" (did you mean {close[0]}?)" if close else ""
    raise InputError(
        f"category {named}: not known{guess}; the known categories are " + ", ".join(sorted(known))
    )


# -- a person's use cases -----------------------------------------------------------------


def subscribe(
    engine: Engine, email: str, prefs: Preferences, now: datetime, consent: Consent
) -> SubscribeOutcome:
    """Start (or restart) a double opt-in. Confirmed subscribers are left untouched."""
    address = normalize_email(email)
    prefs = check_preferences(prefs)
    with engine.begin() as conn:
        if subscriber_store.is_suppressed(conn, address):
            return SubscribeOutcome("suppressed")
        existing = subscriber_store.get_subscriber_by_email(conn, address)
        if existing is None:
            new = with_preferences(Subscriber(address), prefs)
            subscriber_id = insert_new(conn, new, now, consent)
            if subscriber_id is None:  # a parallel request inserted it first
                return SubscribeOutcome("pending")
            return SubscribeOutcome("added", subscriber_id, issue(conn, subscriber_id, new, now))
        assert existing.id is not None
        if existing.status == "confirmed":
            return SubscribeOutcome("exists", existing.id, returning=existing)
        return restart(conn, existing, prefs, now, consent)


def insert_new(
    conn: Connection, subscriber: Subscriber, now: datetime, consent: Consent
) -> int | None:
    savepoint = conn.begin_nested()
    try:
        new_id = subscriber_store.insert_subscriber(
            conn,
            subscriber,
            now,
            consent.via,
            consent.version,
            ip=consent.ip,
            user_agent=consent.user_agent,
        )
    except ConstraintViolation:  # the same address, inserted by a concurrent request
        savepoint.rollback()
        return None
    savepoint.commit()
    return new_id


def restart(
    conn: Connection, existing: Subscriber, prefs: Preferences, now: datetime, consent: Consent
) -> SubscribeOutcome:
    """A pending or unsubscribed address asks again: new preferences, a new mail if due."""
    assert existing.id is not None
    subscriber_store.update_preferences(conn, with_preferences(existing, prefs), now)
    if existing.status == "unsubscribed":
        subscriber_store.set_status(conn, existing.id, "pending", now)
    record(conn, existing.id, "subscribe", now, consent)
    sent = existing.confirm_sent_at
    if sent is not None and now - sent < RESEND_AFTER:
        return SubscribeOutcome("pending", existing.id)
    return SubscribeOutcome("pending", existing.id, issue(conn, existing.id, existing, now))


def issue(
    conn: Connection, subscriber_id: int, subscriber: Subscriber, now: datetime
) -> Confirmation:
    token, token_hash = tokens.new_confirm_token(subscriber_id)
    subscriber_store.set_confirm_token(conn, subscriber_id, token_hash, now)
    return Confirmation(subscriber_id, subscriber.email, subscriber.language, token)


def request_confirmation(engine: Engine, subscriber_id: int, now: datetime) -> Confirmation | None:
    """A confirmation mail for a pending subscriber an admin added, unless one went out in
    the last 10 minutes."""
    with engine.begin() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        if subscriber is None or subscriber.status != "pending":
            return None
        sent = subscriber.confirm_sent_at
        if sent is not None and now - sent < RESEND_AFTER:
            return None
        return issue(conn, subscriber_id, subscriber, now)


def pending_by_confirm_token(conn: Connection, token: str, now: datetime) -> Subscriber | None:
    """The pending subscriber this unused, unexpired token belongs to; else None."""
    subscriber_id = tokens.parse_confirm_token(token)
    if subscriber_id is None:
        return None
    subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
    stored = subscriber_store.confirm_token_of(conn, subscriber_id)
    matches = tokens.token_matches(token, stored)
    if subscriber is None or not matches or subscriber.status != "pending":
        return None
    sent = subscriber.confirm_sent_at
    if sent is None or now - sent > tokens.CONFIRM_TTL:
        return None
    return subscriber


def check_confirm_token(engine: Engine, token: str, now: datetime) -> Subscriber | None:
    """Who a still-good confirm link is for (the page with the button; changes nothing)."""
    with engine.connect() as conn:
        return pending_by_confirm_token(conn, token, now)


def confirmed_by_used_token(engine: Engine, token: str) -> Subscriber | None:
    """The confirmed subscriber whose (spent) confirmation link this is; else None."""
    subscriber_id = tokens.parse_confirm_token(token)
    if subscriber_id is None:
        return None
    with engine.connect() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        stored = subscriber_store.confirm_token_of(conn, subscriber_id)
    if subscriber is None or subscriber.status != "confirmed":
        return None
    return subscriber if tokens.token_matches(token, stored) else None


def confirm(engine: Engine, token: str, now: datetime, consent: Consent) -> Subscriber | None:
    """Confirm the subscription this token was mailed for; the token is then spent."""
    with engine.begin() as conn:
        subscriber = pending_by_confirm_token(conn, token, now)
        if subscriber is None or subscriber.id is None:
            return None
        subscriber_store.set_status(conn, subscriber.id, "confirmed", now)
        record(conn, subscriber.id, "confirm", now, consent)
        return replace(subscriber, status="confirmed", confirmed_at=now)


def subscriber_for_token(
    engine: Engine, token: str, purpose: str, secret_key: str
) -> Subscriber | None:
    """The subscriber a preferences/unsubscribe token names, if it is genuine and current."""
    found = verify_token(token, purpose, secret_key)
    if found is None:
        return None
    subscriber_id, version = found
    with engine.connect() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        return None
    return subscriber


def change_preferences(
    engine: Engine, subscriber_id: int, prefs: Preferences, now: datetime, consent: Consent
) -> Subscriber:
    prefs = check_preferences(prefs)
    with engine.begin() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        if subscriber is None:
            raise InputError("preferences: this subscriber no longer exists")
        changed = with_preferences(subscriber, prefs)
        subscriber_store.update_preferences(conn, changed, now)
        detail = json.dumps(
            {
                "language": prefs.language,
                "cadence": prefs.cadence,
                "format": prefs.format,
                "categories": list(prefs.categories),
            },
            sort_keys=True,
        )
        record(conn, subscriber_id, "change", now, consent, detail)
        return changed


def unsubscribe(engine: Engine, subscriber_id: int, now: datetime, consent: Consent) -> bool:
    """Stop every mail at once; False (and no new event) if already unsubscribed."""
    with engine.begin() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        if subscriber is None or subscriber.status == "unsubscribed":
            return False
        subscriber_store.set_status(conn, subscriber_id, "unsubscribed", now)
        record(conn, subscriber_id, "unsubscribe", now, consent)
        return True


def resubscribe(engine: Engine, subscriber_id: int, now: datetime, consent: Consent) -> bool:
    """From the goodbye page: the token came by mail, so the mailbox is proven already."""
    with engine.begin() as conn:
        subscriber = subscriber_store.get_subscriber(conn, subscriber_id)
        if subscriber is None or subscriber.status == "confirmed":
            return False
        if subscriber_store.is_suppressed(conn, subscriber.email):
            return False
        subscriber_store.set_status(conn, subscriber_id, "confirmed", now)
        record(conn, subscriber_id, "resubscribe", now, consent)
        return True

"""Acting on what came back, whether read from a mailbox or posted by a provider:

- hard bounce: the address is suppressed (and its subscription ends);
- soft bounce: counted; ``[bounces] soft_limit`` of them within ``soft_window_days``
  suppress the address;
- complaint: unsubscribed and suppressed at once (the person said "spam");
- unsubscribe mail: unsubscribed (RFC 2369 mailto), like the one-click link.

Each event is stored once (its key), so a mail read again after a crash changes nothing.
Where the events name an edition, its guard rail is checked in the same transaction:
past ``pause_after_messages`` sent, a hard-bounce rate above ``pause_hard_rate`` or a
complaint rate above ``pause_complaint_rate`` holds it (state "held", cause
"guard_rail"): every running sender stops at its next claim or lease renewal, and no
sender or job takes it up again until a person resumes it (the console, or
`m5syndicate send --resume SLUG`) once the list is cleaned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from m5syndicate.bounces.parse import Finding, Reading
from m5syndicate.config import BouncesSettings
from m5syndicate.models import edition_slug
from m5syndicate.store import bounces as bounce_store
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.bounces import Target
from m5syndicate.subscribers.links import UNSUBSCRIBE, verify_token
from m5syndicate.subscribers.subscriptions import Consent, record

GUARDED_STATES = ("sending", "paused")  # held by the guard rail from these; not once done
BY_MAIL = Consent(via="mail")  # the person wrote (a complaint, an unsubscribe mail)
BY_BOUNCE = Consent(via="bounce")  # their server said the address does not take mail


@dataclass
class Tally:
    """What one run did, for the command's output, logs and tests."""

    read: int = 0
    recorded: Counter[str] = field(default_factory=Counter)  # hard, soft, complaint...
    suppressed: int = 0
    unsubscribed: int = 0
    repeated: int = 0  # events stored before (a mail read twice)
    ignored: int = 0  # auto-replies, reports of no failure
    unmatched: int = 0  # about nobody we know: kept
    unreadable: int = 0  # kept for a person
    paused: list[str] = field(default_factory=list)  # "daily 2026-12-01: hard bounces 6.0%"

    def add(self, other: Tally) -> None:
        self.read += other.read
        self.recorded.update(other.recorded)
        for name in ("suppressed", "unsubscribed", "repeated", "ignored", "unmatched"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unreadable += other.unreadable
        self.paused += other.paused


@dataclass(frozen=True)
class Recorder:
    engine: Engine
    settings: BouncesSettings
    secret_key: str

    def record(self, reading: Reading, source: str, now: datetime) -> tuple[Tally, bool]:
        """Act on one reading; (what was done, whether the mail is done with). A mail
        that is unreadable or about nobody we know is not done: it is kept."""
        tally = Tally(read=1)
        if reading.unreadable:
            tally.unreadable = 1
            return tally, False
        if not reading.findings:
            tally.ignored = 1
            return tally, True
        with self.engine.begin() as conn:
            editions: set[int] = set()
            for finding in reading.findings:
                target = self.target(conn, finding)
                if target is None:
                    tally.unmatched += 1
                    continue
                self.apply(conn, reading.key, finding, target, source, now, tally)
                if target.edition_id is not None:
                    editions.add(target.edition_id)
            tally.paused = self.check_guard_rails(conn, sorted(editions))
        return tally, tally.unmatched < len(reading.findings)

    def target(self, conn: Connection, finding: Finding) -> Target | None:
        if finding.kind == "unsubscribe":
            found = verify_token(finding.token, UNSUBSCRIBE, self.secret_key)
            target = bounce_store.target_of_subscriber(conn, found[0]) if found else None
            # A link revoked by a later token version no longer speaks for the subscriber.
            return (
                target
                if target is not None and found and target.token_version == found[1]
                else None
            )
        if finding.delivery_id is not None:
            target = bounce_store.target_of_delivery(conn, finding.delivery_id)
            if target is not None:
                return target
        if finding.address:
            subscriber_id = subscriber_store.find_subscriber_id(conn, finding.address)
            if subscriber_id is not None:
                return bounce_store.target_of_latest_delivery(conn, subscriber_id)
        return None

    def apply(
        self,
        conn: Connection,
        key: str,
        finding: Finding,
        target: Target,
        source: str,
        now: datetime,
        tally: Tally,
    ) -> None:
        event_key = f"{source}:{key}:{target.delivery_id or target.subscriber_id}:{finding.kind}"
        stored = bounce_store.record_bounce(
            conn,
            event_key=event_key,
            kind=finding.kind,
            source=source,
            target=target,
            status=finding.status,
            detail=finding.detail,
            now=now,
        )
        if not stored:
            tally.repeated += 1
            return
        tally.recorded[finding.kind] += 1
        reason = f"{finding.kind} {finding.status}: {finding.detail}".strip()[:300]
        if finding.kind in ("complaint", "unsubscribe"):
            tally.unsubscribed += unsubscribe(conn, target, now, reason, BY_MAIL)
        if finding.kind in ("hard", "complaint") or self.too_many_soft(conn, target, now):
            tally.suppressed += suppress(conn, target, now, reason)

    def too_many_soft(self, conn: Connection, target: Target, now: datetime) -> bool:
        since = now - timedelta(days=self.settings.soft_window_days)
        soft = bounce_store.count_soft_since(conn, target.subscriber_id, since)
        return soft >= self.settings.soft_limit

    def check_guard_rails(self, conn: Connection, edition_ids: list[int]) -> list[str]:
        if not edition_ids:
            return []
        paused = []
        for rates in bounce_store.edition_rates(conn, edition_ids):
            why = self.pause_reason(rates)
            slug = edition_slug(rates.cadence, rates.period_key)
            reason = (
                f"{why}; clean the list (`m5syndicate status`, the bounces), then resume it "
                f"in the console or with `m5syndicate send --resume {slug}`"
            )
            if why and edition_store.hold_edition(
                conn, rates.edition_id, "guard_rail", reason, GUARDED_STATES
            ):
                paused.append(f"{rates.cadence} {rates.period_key}: {why}")
        return paused

    def pause_reason(self, rates: bounce_store.EditionRates) -> str:
        s = self.settings
        if rates.sent < s.pause_after_messages:
            return ""
        if rates.hard_rate > s.pause_hard_rate:
            return (
                f"hard bounces {rates.hard_rate:.1%} of {rates.sent} sent "
                f"(limit {s.pause_hard_rate:.1%})"
            )
        if rates.complaint_rate > s.pause_complaint_rate:
            return (
                f"complaints {rates.complaint_rate:.2%} of {rates.sent} sent "
                f"(limit {s.pause_complaint_rate:.2%})"
            )
        return ""


def unsubscribe(
    conn: Connection, target: Target, now: datetime, reason: str, consent: Consent
) -> int:
    subscriber = subscriber_store.get_subscriber(conn, target.subscriber_id)
    if subscriber is None or subscriber.status == "unsubscribed":
        return 0
    subscriber_store.set_status(conn, target.subscriber_id, "unsubscribed", now)
    record(conn, target.subscriber_id, "unsubscribe", now, consent, reason)
    return 1


def suppress(conn: Connection, target: Target, now: datetime, reason: str) -> int:
    """Never mail the address again (its subscription ends), as `subscribers suppress` does."""
    if not subscriber_store.suppress_addresses(conn, [target.email], reason, "bounce", now):
        return 0
    unsubscribe(conn, target, now, reason, BY_BOUNCE)
    record(conn, target.subscriber_id, "suppress", now, BY_BOUNCE, reason)
    return 1

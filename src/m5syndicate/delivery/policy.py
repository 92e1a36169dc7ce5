"""The failure policy, pure: what a failed delivery becomes, and when an edition pauses.

No I/O and no clock: the runner hands in the error (with the SMTP step it happened at),
the attempts made and the settings, and writes what comes back. The tables in
tests/unit/test_delivery_policy.py are its specification.

Where it failed decides whose fault it is:

- before the recipient was named (connect, EHLO, STARTTLS, AUTH, MAIL FROM) it is ours
  or the relay's: the delivery goes back untouched (no attempt counted). A refusal that
  waiting will not fix (login refused, sender refused, 5.1.7/5.1.8 anywhere) pauses the
  edition at once, naming the cause; temporary ones count toward ``pause_after``.
- at RCPT, DATA or the final dot it is an attempt for that recipient. Only a 5.1.x
  (bad destination mailbox) at RCPT or the final dot suppresses the address. A policy
  refusal (5.7.x) fails that message but counts toward ``pause_after``, since it is
  usually the relay refusing us; other permanent refusals are the recipient's and do
  not.
- the message sent in full and no reply (UnknownOutcome): ``[delivery] unknown_outcome``
  counts it as sent (state "unknown") or retries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from m5syndicate.config import DeliverySettings
from m5syndicate.errors import DeliveryError, PermanentFailure, UnknownOutcome

HARD_BOUNCE = re.compile(r"\b5\.1\.\d{1,3}\b")  # RFC 3463: bad destination mailbox
SENDER_REFUSED = re.compile(r"\b5\.1\.[78]\b")  # RFC 3463: bad sender address / system
POLICY = re.compile(r"\b5\.7\.\d{1,3}\b")  # RFC 3463: security or policy status
MAX_RETRY_DELAY = timedelta(hours=1)
BEFORE_RECIPIENT = ("connect", "EHLO", "STARTTLS", "AUTH", "MAIL FROM")
BOUNCE_STEPS = ("RCPT", "final dot")
PAUSE_CAUSES = {"AUTH": "auth failed", "MAIL FROM": "sender refused"}


@dataclass(frozen=True)
class Verdict:
    """What one failed delivery becomes."""

    state: str  # "pending" (tried again after `retry_in`), "failed", "unknown" or "released"
    error: str  # recorded on the ledger, with the server's reply
    code: int | None = None
    suppress: bool = False  # never mail this address again
    retry_in: timedelta | None = None
    attempted: bool = True  # the recipient was offered to the relay: one attempt more
    relay_level: bool = True  # counts toward `pause_after` (the relay, not the recipient)
    pause: str = ""  # pause the edition now, for this reason


def judge(error: DeliveryError, attempts: int, delivery: DeliverySettings) -> Verdict:
    """``attempts``: the tries made before this one."""
    step, text = error.step, str(error)
    if step in BEFORE_RECIPIENT or (isinstance(error, PermanentFailure) and sender_refused(text)):
        return before_recipient(error, attempts, delivery)
    if isinstance(error, UnknownOutcome):
        if delivery.unknown_outcome == "sent":
            return Verdict("unknown", f"unknown outcome, counted as sent: {text}", error.code)
        return retry_or_give_up(error, attempts + 1, delivery, f"unknown outcome: {text}")
    if isinstance(error, PermanentFailure):
        bounce = step in BOUNCE_STEPS and bool(HARD_BOUNCE.search(text))
        policy = bool(POLICY.search(text))
        return Verdict("failed", text, error.code, suppress=bounce, relay_level=policy)
    return retry_or_give_up(error, attempts + 1, delivery, text)


def before_recipient(error: DeliveryError, attempts: int, delivery: DeliverySettings) -> Verdict:
    """Nobody's address was at stake: the delivery goes back as it was."""
    text = str(error)
    if not isinstance(error, PermanentFailure):
        delay = retry_delay(delivery.retry_seconds, attempts)
        return Verdict("pending", text, error.code, retry_in=delay, attempted=False)
    cause = PAUSE_CAUSES.get(error.step or "", "")
    if sender_refused(text) or error.step == "MAIL FROM":
        cause = "sender refused"
    cause = cause or "the relay refused the connection"
    fix = {
        "auth failed": "check the user and password in [delivery] smtp_url",
        "sender refused": "check [newsletter] from and that the relay lets this account send as it",
    }.get(cause, "check the relay and [delivery] smtp_url")
    pause = (
        f"{cause}: {text}; no subscriber was touched; {fix}, then run `m5syndicate send` "
        "again to resume"
    )
    return Verdict("released", text, error.code, attempted=False, pause=pause)


def sender_refused(text: str) -> bool:
    return bool(SENDER_REFUSED.search(text))


def retry_or_give_up(
    error: DeliveryError, tries: int, delivery: DeliverySettings, text: str
) -> Verdict:
    """Temporary: retried with a doubling delay until `max_attempts` tries were made."""
    if tries >= delivery.max_attempts:
        return Verdict("failed", f"gave up after {tries} attempts; last: {text}", error.code)
    delay = retry_delay(delivery.retry_seconds, tries)
    return Verdict("pending", text, error.code, retry_in=delay)


def retry_delay(base_seconds: float, attempts: int) -> timedelta:
    """base, 2 x base, 4 x base... capped at an hour."""
    delay = timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY_DELAY)


def pause_reason(failures_in_a_row: int, pause_after: int, last: DeliveryError) -> str:
    """Why the edition pauses now, or "" to go on: so many relay-level failures in a row
    mean the relay, not the recipients, is the problem."""
    if failures_in_a_row < pause_after:
        return ""
    return (
        f"{failures_in_a_row} deliveries failed in a row at the relay (last: {last}); "
        "check the relay and [delivery] smtp_url, then run "
        "`m5syndicate send` again to resume"
    )

"""The failure policy, pure: what a failed delivery becomes, and when an edition pauses.

No I/O and no clock: the runner hands in the error, the attempts made and the settings,
and writes what comes back. The tables in tests/unit/test_delivery_policy.py are its
specification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from m5syndicate.config import DeliverySettings
from m5syndicate.errors import DeliveryError, PermanentFailure

HARD_BOUNCE = re.compile(r"\b5\.1\.\d{1,3}\b")  # RFC 3463: bad destination mailbox
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    """What one failed delivery becomes."""

    state: str  # "pending" (tried again after `retry_in`) or "failed"
    error: str  # recorded on the ledger, with the server's reply
    code: int | None = None
    suppress: bool = False  # never mail this address again
    retry_in: timedelta | None = None


def judge(error: DeliveryError, attempts: int, delivery: DeliverySettings) -> Verdict:
    """A permanent refusal fails now (a hard bounce also suppresses); a temporary one is
    retried with a doubling delay until `max_attempts` tries were made."""
    if isinstance(error, PermanentFailure):
        suppress = bool(HARD_BOUNCE.search(str(error)))
        return Verdict("failed", str(error), error.code, suppress=suppress)
    if attempts >= delivery.max_attempts:
        reason = f"gave up after {attempts} attempts; last: {error}"
        return Verdict("failed", reason, error.code)
    delay = retry_delay(delivery.retry_seconds, attempts)
    return Verdict("pending", str(error), error.code, retry_in=delay)


def retry_delay(base_seconds: float, attempts: int) -> timedelta:
    """base, 2 x base, 4 x base... capped at an hour."""
    delay = timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY_DELAY)


def pause_reason(failures_in_a_row: int, pause_after: int, last: DeliveryError) -> str:
    """Why the edition pauses now, or "" to go on: so many failures in a row mean the
    relay, not the recipients, is the problem."""
    if failures_in_a_row < pause_after:
        return ""
    return (
        f"{failures_in_a_row} deliveries failed in a row (last: {last}); check the relay "
        "and [delivery] smtp_url, then run `m5syndicate send` again to resume"
    )

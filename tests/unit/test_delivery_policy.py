"""The failure policy as a table: (error and its SMTP step, attempts made before) -> what
the delivery becomes, whether the edition pauses, and whether it counts toward pause_after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from m5syndicate.config import DeliverySettings
from m5syndicate.delivery.policy import judge, pause_reason, retry_delay
from m5syndicate.errors import (
    DeliveryError,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)

SETTINGS = DeliverySettings(max_attempts=5, retry_seconds=10.0, pause_after=3)
RETRYING = SETTINGS.with_changes(unknown_outcome="retry")
RCPT_UNKNOWN = PermanentFailure("550 5.1.1 <x@example.org>: user unknown", code=550, step="RCPT")
DOT_UNKNOWN = PermanentFailure("550 5.1.1 mailbox gone", code=550, step="final dot")
DATA_UNKNOWN = PermanentFailure("550 5.1.1 odd place for it", code=550, step="DATA")
NO_STEP_UNKNOWN = PermanentFailure("550 5.1.1 user unknown", code=550)
SENDER_AT_MAIL = PermanentFailure(
    "553 5.1.8 <bulten@m5.test>: Sender address rejected", code=553, step="MAIL FROM"
)
SENDER_AT_RCPT = PermanentFailure("553 5.1.8 sender domain unknown", code=553, step="RCPT")
SENDER_POLICY = PermanentFailure("550 5.7.1 not allowed to send as", code=550, step="MAIL FROM")
AUTH_REFUSED = PermanentFailure("535 5.7.8 bad credentials", code=535, step="AUTH")
NO_STARTTLS = PermanentFailure("relay offers no STARTTLS", step="STARTTLS")
GREETING_REFUSED = PermanentFailure("554 no service", code=554, step="connect")
POLICY_AT_DOT = PermanentFailure("554 5.7.1 message refused as spam", code=554, step="final dot")
MAILBOX_FULL = PermanentFailure("552 5.2.2 mailbox full", code=552, step="RCPT")
GREYLISTED = TemporaryFailure("451 4.7.1 try again later", code=451, step="RCPT")
RELAY_DOWN = TemporaryFailure("cannot connect to relay", step="connect")
MAIL_TEMP = TemporaryFailure("451 4.3.0 try later", code=451, step="MAIL FROM")
DROPPED = DeliveryError("connection lost")
SLOW_DOT = UnknownOutcome("no reply to the final dot", step="final dot")


@pytest.mark.parametrize(
    ("error", "attempts", "state", "suppress", "retry_in", "attempted", "relay_level"),
    [
        # Only RCPT or final-dot 5.1.x suppresses: the recipient's mailbox does not exist.
        (RCPT_UNKNOWN, 0, "failed", True, None, True, False),
        (DOT_UNKNOWN, 0, "failed", True, None, True, False),
        (DATA_UNKNOWN, 0, "failed", False, None, True, False),
        (NO_STEP_UNKNOWN, 0, "failed", False, None, True, False),
        # Permanent for this recipient, but not theirs to lose: no suppression, no pause.
        (MAILBOX_FULL, 0, "failed", False, None, True, False),
        # A policy refusal fails the message and counts toward pause_after (the relay).
        (POLICY_AT_DOT, 0, "failed", False, None, True, True),
        # Temporary: an attempt, a doubling delay, failed after max_attempts tries.
        (GREYLISTED, 0, "pending", False, timedelta(seconds=10), True, True),
        (GREYLISTED, 1, "pending", False, timedelta(seconds=20), True, True),
        (GREYLISTED, 3, "pending", False, timedelta(seconds=80), True, True),
        (GREYLISTED, 4, "failed", False, None, True, True),  # the fifth try
        (DROPPED, 0, "pending", False, timedelta(seconds=10), True, True),
        (DROPPED, 9, "failed", False, None, True, True),
        # Before the recipient was named: no attempt, however often.
        (RELAY_DOWN, 0, "pending", False, timedelta(seconds=10), False, True),
        (RELAY_DOWN, 7, "pending", False, timedelta(seconds=640), False, True),
        (MAIL_TEMP, 4, "pending", False, timedelta(seconds=80), False, True),
        # Sent in full, no reply: counted as sent by default, never silently retried.
        (SLOW_DOT, 0, "unknown", False, None, True, True),
    ],
)
def test_judge(
    error: DeliveryError,
    attempts: int,
    state: str,
    suppress: bool,
    retry_in: timedelta | None,
    attempted: bool,
    relay_level: bool,
) -> None:
    verdict = judge(error, attempts, SETTINGS)
    assert (verdict.state, verdict.suppress, verdict.retry_in) == (state, suppress, retry_in)
    assert (verdict.attempted, verdict.relay_level) == (attempted, relay_level)
    assert verdict.pause == ""
    assert verdict.code == error.code
    assert str(error) in verdict.error


@pytest.mark.parametrize(
    ("error", "cause", "fix"),
    [
        (SENDER_AT_MAIL, "sender refused", "[newsletter] from"),
        (SENDER_AT_RCPT, "sender refused", "[newsletter] from"),  # 5.1.8 names the sender
        (SENDER_POLICY, "sender refused", "[newsletter] from"),
        (AUTH_REFUSED, "auth failed", "user and password"),
        (NO_STARTTLS, "the relay refused the connection", "smtp_url"),
        (GREETING_REFUSED, "the relay refused the connection", "smtp_url"),
    ],
)
def test_our_side_refused_pauses_at_once_touching_nobody(
    error: PermanentFailure, cause: str, fix: str
) -> None:
    verdict = judge(error, 2, SETTINGS)
    assert verdict.state == "released"  # back to pending as it was
    assert not verdict.suppress and not verdict.attempted
    assert verdict.pause.startswith(f"{cause}: {error}")
    assert "no subscriber was touched" in verdict.pause and fix in verdict.pause


def test_an_unknown_outcome_can_be_retried_instead() -> None:
    verdict = judge(SLOW_DOT, 0, RETRYING)
    assert (verdict.state, verdict.retry_in, verdict.attempted) == (
        "pending",
        timedelta(seconds=10),
        True,
    )
    assert verdict.error.startswith("unknown outcome: ")
    assert judge(SLOW_DOT, 4, RETRYING).state == "failed"


def test_giving_up_says_so() -> None:
    assert judge(GREYLISTED, 4, SETTINGS).error.startswith("gave up after 5 attempts; last: 451")


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(0, 10), (1, 10), (2, 20), (3, 40), (12, 3600), (40, 3600)]
)
def test_retry_delay_doubles_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert retry_delay(10.0, attempts) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("in_a_row", "pauses"), [(1, False), (2, False), (3, True), (9, True)])
def test_pause_after_failures_in_a_row(in_a_row: int, pauses: bool) -> None:
    reason = pause_reason(in_a_row, SETTINGS.pause_after, GREYLISTED)
    assert bool(reason) is pauses
    if pauses:
        assert f"{in_a_row} deliveries failed in a row" in reason and "smtp_url" in reason

"""The failure policy as a table: (error, attempts) -> what the delivery becomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from m5syndicate.config import DeliverySettings
from m5syndicate.delivery.policy import judge, pause_reason, retry_delay
from m5syndicate.errors import DeliveryError, PermanentFailure, TemporaryFailure

SETTINGS = DeliverySettings(max_attempts=5, retry_seconds=10.0, pause_after=3)
USER_UNKNOWN = PermanentFailure("550 5.1.1 <x@example.org>: user unknown", code=550)
POLICY_REFUSAL = PermanentFailure("554 5.7.1 message refused as spam", code=554)
GREYLISTED = TemporaryFailure("451 4.7.1 try again later", code=451)
DROPPED = DeliveryError("connection lost")


@pytest.mark.parametrize(
    ("error", "attempts", "state", "suppress", "retry_in"),
    [
        (USER_UNKNOWN, 1, "failed", True, None),  # hard bounce: failed and suppressed
        (POLICY_REFUSAL, 1, "failed", False, None),  # permanent, but the address is fine
        (GREYLISTED, 1, "pending", False, timedelta(seconds=10)),
        (GREYLISTED, 2, "pending", False, timedelta(seconds=20)),
        (GREYLISTED, 4, "pending", False, timedelta(seconds=80)),
        (GREYLISTED, 5, "failed", False, None),  # max_attempts tries made
        (DROPPED, 1, "pending", False, timedelta(seconds=10)),  # unknown errors: temporary
        (DROPPED, 9, "failed", False, None),
    ],
)
def test_judge(
    error: DeliveryError,
    attempts: int,
    state: str,
    suppress: bool,
    retry_in: timedelta | None,
) -> None:
    verdict = judge(error, attempts, SETTINGS)
    assert (verdict.state, verdict.suppress, verdict.retry_in) == (state, suppress, retry_in)
    assert verdict.code == error.code
    assert str(error) in verdict.error


def test_giving_up_says_so() -> None:
    assert judge(GREYLISTED, 5, SETTINGS).error.startswith("gave up after 5 attempts; last: 451")


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

"""The send forecast: configured rate, daily cap and measured rate, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from m5syndicate.web.console.forecast import forecast

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("pending", "rate", "cap", "sent_today", "measured", "configured_at", "days", "measured_at"),
    [
        (0, 0.0, 0, 0, 0.0, None, 0, None),  # nothing left, nothing set
        (3600, 1.0, 0, 0, 0.0, NOW + H, 0, None),  # one an second: an hour
        (3600, 0.0, 0, 0, 2.0, None, 0, NOW + H / 2),  # measured only
        (100, 10.0, 1000, 950, 0.0, NOW + 24 * H, 1, None),  # 50 today, the rest tomorrow
        (2500, 10.0, 1000, 0, 0.0, NOW + 48 * H, 2, None),  # 1000 today, then two more days
        (500, 1.0, 1000, 0, 1.0, NOW + 500 * timedelta(seconds=1), 0,
         NOW + 500 * timedelta(seconds=1)),  # under the cap: the cap does not hold it back
    ],
)  # fmt: skip
def test_forecast(
    pending: int,
    rate: float,
    cap: int,
    sent_today: int,
    measured: float,
    configured_at: datetime | None,
    days: int,
    measured_at: datetime | None,
) -> None:
    found = forecast(pending, NOW, rate, cap, sent_today, measured)
    assert (found.at_configured_rate, found.days_by_cap, found.at_measured_rate) == (
        configured_at,
        days,
        measured_at,
    )

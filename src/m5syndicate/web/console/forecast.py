"""When a send will finish: at the configured rate, within the daily cap, and at the rate
measured over the last minutes. Pure: numbers in, times out (table-tested)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Forecast:
    pending: int
    at_configured_rate: datetime | None  # None: no rate set (as fast as the server takes)
    days_by_cap: int  # 0: no cap, or the cap is not what holds it back
    at_measured_rate: datetime | None  # None: nothing measured yet


def forecast(
    pending: int,
    now: datetime,
    rate_per_second: float,
    daily_cap: int,
    sent_last_day: int,
    measured_per_second: float,
) -> Forecast:
    configured = None
    if rate_per_second > 0:
        configured = now + timedelta(seconds=pending / rate_per_second)
    measured = None
    if measured_per_second > 0:
        measured = now + timedelta(seconds=pending / measured_per_second)
    days = 0
    if daily_cap and pending > max(daily_cap - sent_last_day, 0):
        # Today's room first, then a full cap each further day.
        rest = pending - max(daily_cap - sent_last_day, 0)
        days = math.ceil(rest / daily_cap)
    if days:
        configured = max(configured or now, now + days * DAY)
        measured = max(measured, now + days * DAY) if measured else None
    return Forecast(pending, configured, days, measured)

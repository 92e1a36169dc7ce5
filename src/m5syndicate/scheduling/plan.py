"""When the digests are due, and what to do about runs missed while we were down.

Pure functions over APScheduler's CronTrigger, in ``site.timezone`` whatever the
machine's zone, so daylight-saving changes neither double nor drop a run (APScheduler's
cron fields are wall-clock times in that zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from m5syndicate.config import NewsletterSettings

WEEKDAY_CRON = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def digest_trigger(cadence: str, newsletter: NewsletterSettings, timezone: str) -> CronTrigger:
    """The daily or weekly digest's trigger, in the site's zone."""
    hour, minute = (int(part) for part in newsletter.daily_at.split(":"))
    zone = ZoneInfo(timezone)
    if cadence == "daily":
        return CronTrigger(hour=hour, minute=minute, timezone=zone)
    if cadence == "weekly":
        day = WEEKDAY_CRON[newsletter.weekly_on]
        return CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=zone)
    raise ValueError(f"no fixed schedule for cadence {cadence!r}")


def fire_times(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in [start, end]."""
    times: list[datetime] = []
    previous = None
    current = trigger.get_next_fire_time(None, start)
    while current is not None and current <= end:
        times.append(current)
        previous = current
        current = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
    return times


def latest_due(trigger: CronTrigger, now: datetime, horizon: timedelta) -> datetime | None:
    """The most recent fire time at or before ``now`` (looking back ``horizon``)."""
    times = fire_times(trigger, now - horizon, now)
    return times[-1] if times else None


@dataclass(frozen=True)
class CatchUp:
    action: Literal["run", "missed", "nothing"]
    due: datetime | None


def catch_up(
    trigger: CronTrigger, now: datetime, last_scheduled_for: datetime | None, grace: timedelta
) -> CatchUp:
    """On start: run a digest that fell due while we were down, unless it is too late.

    Within ``grace`` of its time it still goes out (once: editions are unique per period);
    later than that it is recorded as missed, not sent late.
    """
    due = latest_due(trigger, now, horizon=timedelta(days=8))
    if due is None or (last_scheduled_for is not None and last_scheduled_for >= due):
        return CatchUp("nothing", due)
    if now - due <= grace:
        return CatchUp("run", due)
    return CatchUp("missed", due)

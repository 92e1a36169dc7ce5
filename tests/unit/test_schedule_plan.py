"""Digest triggers and catch-up, on a controllable clock, across a DST change."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m5syndicate.config import NewsletterSettings
from m5syndicate.scheduling.plan import catch_up, digest_trigger, fire_times, latest_due

IST = ZoneInfo("Europe/Istanbul")
DAILY = digest_trigger("daily", NewsletterSettings(daily_at="07:00"), "Europe/Istanbul")
GRACE = timedelta(hours=6)


def ist(*args: int) -> datetime:
    return datetime(*args, tzinfo=IST)  # type: ignore[misc]


def test_daily_fires_at_local_seven_whatever_the_machine_zone() -> None:
    start = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    times = fire_times(DAILY, start, start + timedelta(days=3))
    assert [t.astimezone(UTC).hour for t in times] == [4, 4, 4]  # Istanbul is UTC+3 now
    assert all(t.astimezone(IST).hour == 7 for t in times)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Istanbul left summer time on 2015-11-08 (04:00 -> 03:00) and entered it on
        # 2015-03-29 (03:00 -> 04:00): one run per local day across both.
        (datetime(2015, 11, 5, tzinfo=UTC), datetime(2015, 11, 12, tzinfo=UTC)),
        (datetime(2015, 3, 26, tzinfo=UTC), datetime(2015, 4, 2, tzinfo=UTC)),
    ],
)
def test_daylight_saving_changes_neither_double_nor_drop(start: datetime, end: datetime) -> None:
    times = fire_times(DAILY, start, end)
    local_days = [t.astimezone(IST).date() for t in times]
    assert len(local_days) == len(set(local_days)) == 7
    assert all(t.astimezone(IST).strftime("%H:%M") == "07:00" for t in times)
    utc_offsets = {t.astimezone(IST).utcoffset() for t in times}
    assert len(utc_offsets) == 2  # the change really happened inside the window


def test_weekly_fires_on_the_chosen_day() -> None:
    weekly = digest_trigger(
        "weekly", NewsletterSettings(daily_at="08:30", weekly_on="friday"), "Europe/Istanbul"
    )
    due = latest_due(weekly, ist(2026, 11, 28, 12, 0), timedelta(days=8))
    assert due == ist(2026, 11, 27, 8, 30)


def test_down_at_seven_up_at_nine_sends_once() -> None:
    now = ist(2026, 11, 28, 9, 0)
    decision = catch_up(DAILY, now, last_scheduled_for=ist(2026, 11, 27, 7, 0), grace=GRACE)
    assert (decision.action, decision.due) == ("run", ist(2026, 11, 28, 7, 0))
    again = catch_up(DAILY, now, last_scheduled_for=decision.due, grace=GRACE)
    assert again.action == "nothing"


def test_up_after_the_grace_records_a_miss() -> None:
    decision = catch_up(DAILY, ist(2026, 11, 28, 13, 1), ist(2026, 11, 27, 7, 0), GRACE)
    assert (decision.action, decision.due) == ("missed", ist(2026, 11, 28, 7, 0))


def test_before_the_first_fire_of_the_day_nothing_is_due_again() -> None:
    decision = catch_up(DAILY, ist(2026, 11, 28, 6, 59), ist(2026, 11, 27, 7, 0), GRACE)
    assert decision.action == "nothing"


def test_a_fresh_install_catches_up_today_only_within_grace() -> None:
    assert catch_up(DAILY, ist(2026, 11, 28, 7, 30), None, GRACE).action == "run"
    assert catch_up(DAILY, ist(2026, 11, 28, 23, 0), None, GRACE).action == "missed"


def test_the_machines_zone_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    expected = fire_times(DAILY, start, start + timedelta(days=2))
    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        trigger = digest_trigger("daily", NewsletterSettings(daily_at="07:00"), "Europe/Istanbul")
        assert fire_times(trigger, start, start + timedelta(days=2)) == expected
    monkeypatch.undo()
    time.tzset()

"""The dashboard's next runs come from the scheduler `run` hands to the app, if any."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from m5syndicate.web.console.overview import next_runs_of

NEXT = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


class SchedulerWithJobs:
    def next_runs(self) -> dict[str, datetime | None]:
        return {"daily": NEXT, "collect": None}


def request_with(scheduler: Any) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(scheduler=scheduler)))


def test_next_runs_are_the_schedulers() -> None:
    assert next_runs_of(request_with(SchedulerWithJobs())) == {"daily": NEXT, "collect": None}


def test_no_scheduler_no_next_runs() -> None:
    assert next_runs_of(request_with(None)) == {}
    assert next_runs_of(request_with(SimpleNamespace(leading=True))) == {}

"""The scheduler service on real databases: catch-up, job records, one leader."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from m5syndicate.config import NewsletterSettings
from m5syndicate.metrics import Metrics
from m5syndicate.scheduling.leader import leadership_for
from m5syndicate.scheduling.plan import digest_trigger
from m5syndicate.scheduling.service import JobSpec, Service
from m5syndicate.store import jobs as job_store
from m5syndicate.store.engine import make_engine

IST = ZoneInfo("Europe/Istanbul")
DAILY = digest_trigger("daily", NewsletterSettings(daily_at="07:00"), "Europe/Istanbul")


def service(engine: Engine, jobs: list[JobSpec], now: datetime, check: float = 0.05) -> Service:
    return Service(
        engine,
        Metrics(),
        jobs,
        leadership_for(engine),
        timezone="Europe/Istanbul",
        grace=timedelta(hours=6),
        check_seconds=check,
        clock=lambda: now,
    )


async def catch_up_and_finish(svc: Service) -> None:
    """Catch-up runs beside the leader loop; wait for them here."""
    await svc.catch_up()
    await svc.finish_running(30)


def recording_job(calls: list[datetime], name: str = "daily") -> JobSpec:
    async def send(scheduled_for: datetime) -> None:
        calls.append(scheduled_for)

    return JobSpec(name, DAILY, send, catch_up=True)


def test_down_at_seven_up_at_nine_sends_once(engine: Engine) -> None:
    calls: list[datetime] = []
    now = datetime(2026, 11, 28, 9, 0, tzinfo=IST)
    asyncio.run(catch_up_and_finish(service(engine, [recording_job(calls)], now)))
    asyncio.run(catch_up_and_finish(service(engine, [recording_job(calls)], now)))  # a restart
    assert calls == [datetime(2026, 11, 28, 7, 0, tzinfo=IST)]
    with engine.connect() as conn:
        run = job_store.get_job(conn, "daily")
    assert run is not None and (run.last_status, run.runs) == ("ok", 1)


def test_up_past_the_grace_records_a_miss_and_sends_nothing(engine: Engine) -> None:
    calls: list[datetime] = []
    now = datetime(2026, 11, 28, 14, 0, tzinfo=IST)
    asyncio.run(catch_up_and_finish(service(engine, [recording_job(calls)], now)))
    assert calls == []
    with engine.connect() as conn:
        run = job_store.get_job(conn, "daily")
    assert run is not None and (run.last_status, run.misses) == ("missed", 1)


def test_a_failing_job_is_recorded_and_the_next_runs(engine: Engine) -> None:
    async def broken(scheduled_for: datetime) -> None:
        raise RuntimeError("relay down")

    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    svc = service(engine, [JobSpec("daily", DAILY, broken, catch_up=True)], now)
    asyncio.run(catch_up_and_finish(svc))
    with engine.connect() as conn:
        run = job_store.get_job(conn, "daily")
    assert run is not None and run.last_status == "failed" and "relay down" in run.last_error


def test_exactly_one_instance_fires_jobs_and_another_takes_over(
    engine: Engine, database_url: str
) -> None:
    other_engine = make_engine(database_url)
    fired: dict[str, int] = {"a": 0, "b": 0}

    def ticking(label: str) -> JobSpec:
        async def tick(scheduled_for: datetime) -> None:
            fired[label] += 1

        return JobSpec("tick", IntervalTrigger(seconds=0.2), tick)

    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    first = service(engine, [ticking("a")], now)
    second = service(other_engine, [ticking("b")], now)

    async def scenario() -> None:
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        first_task = asyncio.create_task(first.lead_when_possible(stop_first))
        await asyncio.sleep(0.1)
        second_task = asyncio.create_task(second.lead_when_possible(stop_second))
        await asyncio.sleep(1.0)
        assert (first.leading, second.leading) == (True, False)
        assert fired["a"] >= 2 and fired["b"] == 0
        stop_first.set()  # the leader goes away; its lock with it
        await first_task
        await asyncio.sleep(1.0)
        assert second.leading and fired["b"] >= 2
        stop_second.set()
        await second_task

    try:
        asyncio.run(scenario())
    finally:
        other_engine.dispose()


def test_a_miss_is_reported_in_utc(engine: Engine) -> None:
    now = datetime(2026, 11, 28, 14, 0, tzinfo=IST)
    asyncio.run(catch_up_and_finish(service(engine, [recording_job([])], now)))
    with engine.connect() as conn:
        run = job_store.get_job(conn, "daily")
    assert run is not None and run.last_error == "due at 2026-11-28 04:00 UTC while not running"


def test_a_long_catch_up_runs_beside_the_leader_loop(engine: Engine) -> None:
    """The catch-up digest must not stop the loop from checking in (/healthz) while it
    sends, and a second run of the same job waits its turn (it is skipped)."""
    now = datetime(2026, 11, 28, 9, 0, tzinfo=IST)
    release = asyncio.Event()
    calls: list[datetime] = []

    async def long_send(scheduled_for: datetime) -> None:
        calls.append(scheduled_for)
        await release.wait()

    spec = JobSpec("daily", DAILY, long_send, catch_up=True)
    svc = service(engine, [spec], now)

    async def scenario() -> tuple[int, list[str]]:
        stop = asyncio.Event()
        leader = asyncio.create_task(svc.lead_when_possible(stop))
        beats = 0
        seen: list[str] = []
        for _ in range(20):
            await asyncio.sleep(0.05)
            if svc.alive_at is not None and "daily" in svc.active:
                beats += 1
                seen = list(svc.active)
        await svc.run_job(spec, now)  # the same job again while it runs: skipped
        release.set()
        await svc.finish_running(10)
        stop.set()
        await leader
        return beats, seen

    beats, seen = asyncio.run(scenario())
    assert beats >= 10 and seen == ["daily"]  # the loop went on while the job ran
    assert calls == [datetime(2026, 11, 28, 7, 0, tzinfo=IST)]  # once, not twice
    assert svc.active == {}

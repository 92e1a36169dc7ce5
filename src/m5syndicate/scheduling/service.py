"""APScheduler wiring: jobs, leadership, catch-up. No business logic here: each job's
action is a use case (collect, send) handed in by `jobs.py`.

Every job coalesces, never overlaps itself (max_instances=1, and a catch-up run counts)
and has a misfire grace time. Only the leader runs jobs; a follower keeps checking and
takes over within ``check_seconds`` of the leader's death.

Long jobs (a catch-up digest, a big edition) run as tasks the leader loop does not await,
so it keeps checking in (health), and collection and instant editions go on meanwhile.
A database outage is ridden out for ``outage_grace`` seconds; longer, the service stops
(``failure`` says why) rather than run on blind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from m5syndicate.delivery.outage import first_line, is_outage
from m5syndicate.delivery.reports import Progress
from m5syndicate.errors import M5Error
from m5syndicate.metrics import Metrics
from m5syndicate.models import utcnow
from m5syndicate.scheduling.leader import Leadership
from m5syndicate.scheduling.plan import catch_up, latest_due
from m5syndicate.store import jobs as job_store

log = logging.getLogger("m5.schedule")
Action = Callable[[datetime], Awaitable[None]]


class SendBoard:
    """Progress of the sends running in this process, for /healthz."""

    def __init__(self) -> None:
        self.editions: dict[str, dict[str, Any]] = {}

    def update(self, progress: Progress) -> None:
        self.editions[progress.edition] = {
            "finished": progress.finished,
            "total": progress.total,
            "sent": progress.tally.sent,
            "rate_per_second": round(progress.rate, 1),
        }
        if progress.finished >= progress.total:
            self.editions.pop(progress.edition, None)


@dataclass(frozen=True)
class JobSpec:
    name: str
    trigger: BaseTrigger
    action: Action  # receives the time the run was scheduled for
    catch_up: bool = False  # digests: a run missed while down goes out within the grace


class Service:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        jobs: list[JobSpec],
        leadership: Leadership,
        *,
        timezone: str,
        grace: timedelta,
        check_seconds: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
        board: SendBoard | None = None,
        outage_grace: float = 60.0,
    ) -> None:
        self.engine, self.metrics, self.jobs = engine, metrics, jobs
        self.leadership, self.grace, self.check_seconds = leadership, grace, check_seconds
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=timezone)
        self.leading = False
        self.running: set[asyncio.Task[Any]] = set()
        self.alive_at: datetime | None = None  # for /healthz: the leader loop's heartbeat
        self.active: dict[str, datetime] = {}  # job -> when its running run started
        self.board = board or SendBoard()
        self.outage_grace = outage_grace
        self.failure = ""  # why the service stopped itself, if it did

    def install(self) -> None:
        defaults = {
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(self.grace.total_seconds()),
        }
        for spec in self.jobs:
            self.scheduler.add_job(
                self.runner(spec), spec.trigger, id=spec.name, name=spec.name, **defaults
            )
        self.scheduler.add_listener(self.on_missed, EVENT_JOB_MISSED)

    def runner(self, spec: JobSpec) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_job(spec, self.scheduled_time(spec))

        return run

    def scheduled_time(self, spec: JobSpec) -> datetime:
        now = self.clock()
        if isinstance(spec.trigger, CronTrigger):
            return latest_due(spec.trigger, now, timedelta(days=8)) or now
        return now

    @property
    def sending(self) -> dict[str, dict[str, Any]]:
        return self.board.editions

    async def run_job(self, spec: JobSpec, scheduled_for: datetime) -> None:
        if spec.name in self.active:  # a catch-up run and a scheduled one: one at a time
            log.info("job %s is still running; this run is skipped", spec.name)
            return
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        self.active[spec.name] = self.clock()
        try:
            await self.run_recorded(spec, scheduled_for)
        finally:
            self.active.pop(spec.name, None)
            if task is not None:
                self.running.discard(task)

    def start_job(self, spec: JobSpec, scheduled_for: datetime) -> None:
        """Run a job beside the leader loop (not awaited by it)."""
        task = asyncio.create_task(self.run_job(spec, scheduled_for), name=f"job {spec.name}")
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def run_recorded(self, spec: JobSpec, scheduled_for: datetime) -> None:
        if not await self.write_job_table(self.record_start, spec.name, scheduled_for):
            return  # the database is away: the leader loop rides it out, or stops
        started, error = time.perf_counter(), ""
        try:
            await spec.action(scheduled_for)
        except Exception as exc:  # a failed run is recorded; the scheduler goes on
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, M5Error):  # ours says what and what to do: one line
                log.error("job %s failed: %s", spec.name, exc, extra={"job": spec.name})
            else:
                log.exception("job %s failed", spec.name, extra={"job": spec.name})
        self.metrics.job_duration.labels(job=spec.name).observe(time.perf_counter() - started)
        self.metrics.job_runs.labels(job=spec.name, status="failed" if error else "ok").inc()
        await self.write_job_table(self.record_end, spec.name, error)

    async def write_job_table(self, write: Callable[[str, Any], None], *args: Any) -> bool:
        """A job's start or end row; during an outage one line is logged instead (the
        leader loop rides the outage out or stops the process)."""
        try:
            await asyncio.to_thread(write, *args)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("job %s: the job table is unreachable (%s)", args[0], first_line(exc))
            return False
        return True

    # The job table is written off the event loop: a busy SQLite must not stall the web.
    def record_start(self, name: str, scheduled_for: datetime) -> None:
        with self.engine.begin() as conn:
            job_store.record_start(conn, name, scheduled_for, self.clock())

    def record_end(self, name: str, error: str) -> None:
        with self.engine.begin() as conn:
            job_store.record_end(conn, name, self.clock(), error)

    async def finish_running(self, timeout: float) -> None:
        """On shutdown: let running jobs end (senders finish what is in flight)."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout)

    def on_missed(self, event: JobExecutionEvent) -> None:
        self.metrics.job_misfires.labels(job=event.job_id).inc()
        with self.engine.begin() as conn:
            job_store.record_missed(conn, event.job_id, event.scheduled_run_time, self.clock())
        log.warning(
            "job %s missed its run at %s",
            event.job_id,
            event.scheduled_run_time,
            extra={"job": event.job_id},
        )

    async def catch_up(self) -> None:
        """Digests that fell due while no leader ran: send within the grace, else note."""
        for spec in self.jobs:
            if not spec.catch_up or not isinstance(spec.trigger, CronTrigger):
                continue
            with self.engine.connect() as conn:
                last = job_store.get_job(conn, spec.name)
            last_time = last.last_scheduled_for if last else None
            decision = catch_up(spec.trigger, self.clock(), last_time, self.grace)
            if decision.action == "run" and decision.due is not None:
                log.info("catching up %s due at %s", spec.name, decision.due)
                self.start_job(spec, decision.due)
            elif decision.action == "missed" and decision.due is not None:
                self.metrics.job_misfires.labels(job=spec.name).inc()
                with self.engine.begin() as conn:
                    job_store.record_missed(conn, spec.name, decision.due, self.clock())

    async def lead_when_possible(self, stop: asyncio.Event) -> None:
        """The leader loop: become leader, run jobs; step down if the lock is lost."""
        self.install()
        self.scheduler.start(paused=True)
        outage_since: float | None = None
        try:
            while not stop.is_set():
                try:
                    await self.check_leadership()
                    outage_since = None
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    outage_since = outage_since or time.monotonic()
                    if time.monotonic() - outage_since >= self.outage_grace:
                        self.failure = (
                            f"run: the database was unreachable for more than "
                            f"{self.outage_grace:g} s ({first_line(exc)}); stopped, nothing "
                            "lost; start the database, then `m5syndicate run` again "
                            "([database] outage_grace_seconds)"
                        )
                        log.error("%s", self.failure)
                        stop.set()
                        break
                    log.warning("database unreachable (%s); retrying", first_line(exc))
                self.alive_at = self.clock()
                with contextlib.suppress(TimeoutError):  # woken by stop, or time to check
                    await asyncio.wait_for(stop.wait(), timeout=self.check_seconds)
        finally:
            self.scheduler.shutdown(wait=False)
            self.leadership.release()

    async def check_leadership(self) -> None:
        try:
            leading = await asyncio.to_thread(self.leadership.acquire)
        except Exception:
            if self.leading:  # the lock's session may be gone: another instance may lead
                log.warning("database unreachable: pausing the scheduled jobs")
                self.leading = False
                self.scheduler.pause()
            raise
        if leading and not self.leading:
            log.info("this instance now leads: running the scheduled jobs")
            self.leading = True
            await self.catch_up()
            self.scheduler.resume()
        elif not leading and self.leading:
            log.warning("leadership lost: pausing the scheduled jobs")
            self.leading = False
            self.scheduler.pause()

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

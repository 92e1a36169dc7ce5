"""The jobs `m5syndicate run` schedules; each is one use case call.

- collect (every 30 s): collect the sources that are due (each has its own `every`,
  backoff and Retry-After), rebuild changed feeds, send the instant edition;
- daily / weekly: the digests at `[newsletter] daily_at` / `weekly_on`, in the site's
  zone, caught up after downtime within `[schedule] catch_up_grace`;
- retries (every minute): finish frozen editions (deliveries due for another try);
- prune (03:30 daily): drop ledger rows older than `[schedule] retention_days`;
- bounces (every `[bounces] every`): read the bounce mailbox, when one is configured.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from m5syndicate.bounces.inbox import read_configured_mailbox
from m5syndicate.config import Settings
from m5syndicate.delivery.send import SendOptions
from m5syndicate.flows import collect_and_notify, send_now
from m5syndicate.runtime import Runtime
from m5syndicate.scheduling.plan import digest_trigger
from m5syndicate.scheduling.service import Action, JobSpec, SendBoard
from m5syndicate.store.prune import prune_ledger

log = logging.getLogger("m5.jobs")
COLLECT_TICK_SECONDS = 30  # sources are checked this often; each is fetched when due
RETRY_TICK_SECONDS = 60


def job_triggers(settings: Settings) -> dict[str, BaseTrigger]:
    """When each job fires (also read by `status` to show the next runs)."""
    zone = settings.site.timezone
    return {
        "collect": IntervalTrigger(seconds=COLLECT_TICK_SECONDS),
        "daily": digest_trigger("daily", settings.newsletter, zone),
        "weekly": digest_trigger("weekly", settings.newsletter, zone),
        "retries": IntervalTrigger(seconds=RETRY_TICK_SECONDS),
        "prune": CronTrigger(hour=3, minute=30, timezone=ZoneInfo(zone)),
        "bounces": IntervalTrigger(seconds=settings.bounces.every_seconds),
    }


def build_jobs(
    runtime: Runtime, stopping: asyncio.Event, board: SendBoard | None = None
) -> list[JobSpec]:
    triggers = job_triggers(runtime.settings)
    board = board or SendBoard()
    actions: dict[str, tuple[Action, bool]] = {  # name -> (action, caught up after downtime)
        "collect": (collect_job(runtime, stopping), False),
        "daily": (digest_job(runtime, "daily", stopping, board), True),
        "weekly": (digest_job(runtime, "weekly", stopping, board), True),
        "retries": (retries_job(runtime, stopping, board), False),
        "prune": (prune_job(runtime), False),
        "bounces": (bounces_job(runtime), False),
    }
    return [
        JobSpec(name, triggers[name], action, catch_up=catch_up)
        for name, (action, catch_up) in actions.items()
    ]


def next_run(trigger: BaseTrigger, last_started: datetime | None, now: datetime) -> datetime:
    """The next fire time as a running scheduler would compute it."""
    if isinstance(trigger, IntervalTrigger):
        return max((last_started or now) + trigger.interval, now)
    fire = trigger.get_next_fire_time(None, now)
    return fire if fire is not None else now


def collect_job(runtime: Runtime, stopping: asyncio.Event) -> Action:
    async def collect(scheduled_for: datetime) -> None:
        report = await collect_and_notify(
            runtime.collect_parts(), runtime.sending, runtime.clock, stopping
        )
        for source in report.sources:
            if source.failed:
                log.warning(
                    "source %s failed: %s", source.name, source.error, extra={"source": source.name}
                )

    return collect


def digest_job(runtime: Runtime, cadence: str, stopping: asyncio.Event, board: SendBoard) -> Action:
    async def send(scheduled_for: datetime) -> None:
        # `now` is the real time (leases and retries need it); the period it falls in is
        # the one scheduled, since catch-up only runs within the grace time.
        options = SendOptions(cadences=(cadence,))
        report = await send_now(runtime.sending, runtime.clock(), options, stopping, board.update)
        for paused in report.paused:
            log.error("%s edition paused: %s", cadence, paused, extra={"cadence": cadence})

    return send


def retries_job(runtime: Runtime, stopping: asyncio.Event, board: SendBoard) -> Action:
    async def retry(scheduled_for: datetime) -> None:
        options = SendOptions(resume_only=True)
        await send_now(runtime.sending, runtime.clock(), options, stopping, board.update)

    return retry


def prune_job(runtime: Runtime) -> Action:
    async def prune(scheduled_for: datetime) -> None:
        days = runtime.settings.schedule.retention_days
        if days <= 0:
            return
        before = runtime.clock() - timedelta(days=days)
        removed = await asyncio.to_thread(prune_before, runtime, before)
        log.info("pruned %d deliveries before %s", removed, before)

    return prune


def prune_before(runtime: Runtime, before: datetime) -> int:
    with runtime.engine.begin() as conn:
        return prune_ledger(conn, before)


def bounces_job(runtime: Runtime) -> Action:
    async def read(scheduled_for: datetime) -> None:
        settings = runtime.settings
        if not settings.bounces.mailbox:
            return
        tally = await asyncio.to_thread(
            read_configured_mailbox, runtime.engine, settings, runtime.clock
        )
        if tally.read:
            log.info("bounce mailbox: %d mails read, %s", tally.read, dict(tally.recorded))
        if tally.unreadable or tally.unmatched:
            log.warning("bounce mailbox: %d kept unread", tally.unreadable + tally.unmatched)
        for paused in tally.paused:
            log.error("edition paused: %s", paused)

    return read

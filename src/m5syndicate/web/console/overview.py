"""The dashboard (editions being sent, the last 30 days, source health, the jobs), the
sources page with "collect now", and the audit log."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.admins.accounts import audit_log
from m5syndicate.collect.health import source_health
from m5syndicate.errors import M5Error
from m5syndicate.flows import collect_cycle
from m5syndicate.models import Edition
from m5syndicate.runtime import Runtime
from m5syndicate.store import activity, jobs
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.web.console.auth import Admin, audited, console_page, page
from m5syndicate.web.console.forecast import Forecast, forecast
from m5syndicate.web.render import checked_form, runtime_of, text_field

log = logging.getLogger(__name__)
IN_PROGRESS = ("sending", "paused", "held")
MEASURE = timedelta(minutes=10)  # the window of the measured rate


@runtime_checkable
class JobTimes(Protocol):
    """What the dashboard reads of the scheduler `run` hands to the app (web may not
    import scheduling, which imports web: the scheduler brings its own answer)."""

    def next_runs(self) -> dict[str, datetime | None]: ...


def next_runs_of(request: Request) -> dict[str, datetime | None]:
    """Each job's next fire time, from this process's scheduler; empty under `serve`
    (no scheduler) or on a standby instance (the leader fires the jobs)."""
    scheduler = request.app.state.scheduler
    return scheduler.next_runs() if isinstance(scheduler, JobTimes) else {}


@dataclass
class Progress:
    edition: Edition
    counts: dict[str, int]
    measured_per_second: float
    forecast: Forecast


def progress_of(runtime: Runtime, edition: Edition) -> Progress:
    """Where one edition's send is, and when it will finish."""
    now = runtime.clock()
    delivery = runtime.settings.delivery
    with runtime.engine.connect() as conn:
        counts = dict(ledger.edition_counts(conn, edition.id or 0))
        recent = activity.sent_since(conn, now - MEASURE, edition.id or 0)
        last_day = ledger.count_sent_since(conn, now - timedelta(hours=24))
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    if not counts:  # not frozen into deliveries yet: every subscriber of its cadence
        pending = 0
    measured = recent / MEASURE.total_seconds()
    ahead = forecast(pending, now, delivery.rate_per_second, delivery.daily_cap, last_day, measured)
    return Progress(edition, counts, measured, ahead)


def dashboard_data(runtime: Runtime) -> dict[str, Any]:
    since = runtime.clock() - timedelta(days=30)
    with runtime.engine.connect() as conn:
        recent = edition_store.list_recent_editions(conn, 50)
        delivered = activity.deliveries_since(conn, since)
        bounced = activity.bounces_since(conn, since)
        events = activity.consent_events_since(conn, since)
        runs = jobs.list_jobs(conn)
    sending = [progress_of(runtime, e) for e in recent if e.state in IN_PROGRESS]
    month = {
        "sent": delivered.get("sent", 0),
        "failed": delivered.get("failed", 0),
        "bounced": bounced,
        "complaints": events.get("complaint", 0),
        "unsubscribes": events.get("unsubscribe", 0) + events.get("suppress", 0),
    }
    health = source_health(runtime.engine, runtime.settings.sources)
    return {"sending": sending, "month": month, "health": health, "runs": runs}


@console_page
async def dashboard(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    data = await run_in_threadpool(dashboard_data, runtime)
    upcoming = next_runs_of(request)
    rows = job_rows(data.pop("runs"), upcoming)
    return page(
        request, "console/dashboard.html", admin, admin.lang, jobs=rows, upcoming=upcoming, **data
    )


@dataclass(frozen=True)
class JobRow:
    name: str
    last: datetime | None
    outcome: str
    next: datetime | None


def job_rows(runs: list[jobs.JobRun], upcoming: dict[str, datetime | None]) -> list[JobRow]:
    """Every job that ran or is scheduled: its last run and outcome, and its next run."""
    by_name = {run.name: run for run in runs}
    rows = []
    for name in sorted(set(by_name) | set(upcoming)):
        run = by_name.get(name)
        outcome = ""
        if run is not None:
            outcome = run.last_status + (f": {run.last_error}" if run.last_error else "")
        rows.append(JobRow(name, run.last_started_at if run else None, outcome, upcoming.get(name)))
    return rows


@console_page
async def sources(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    health = await run_in_threadpool(source_health, runtime.engine, runtime.settings.sources)
    done = request.query_params.get("done", "")
    return page(request, "console/sources.html", admin, admin.lang, health=health, done=done)


async def collect_in_background(runtime: Runtime, name: str) -> None:
    """One source fetched now, whatever its schedule; feeds rebuilt when it changed."""
    parts = runtime.collect_parts()
    try:
        async with parts.lock:
            await collect_cycle(parts, runtime.clock(), only=name, force=True)
    except M5Error as exc:
        log.warning("collect now: %s: %s", name, exc)


@console_page
async def collect_now(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    form = await checked_form(request, admin.lang)
    if not isinstance(form, FormData):
        return form
    name = text_field(form, "source", 200) or ""
    known = {s.name for s in runtime.settings.sources}
    if name not in known:
        return page(request, "message.html", admin, admin.lang, 400, kind="bad_request")
    await audited(request, admin, "collect_now", name)
    response = RedirectResponse("/admin/sources?done=collect", status_code=303)
    response.background = BackgroundTask(collect_in_background, runtime, name)
    return response


@console_page
async def audit_page(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    entries = await asyncio.to_thread(audit_log, runtime.engine, 300)
    return page(request, "console/audit.html", admin, admin.lang, entries=entries)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/", dashboard, methods=["GET", "HEAD"]),
        Route("/admin/sources", sources, methods=["GET", "HEAD"]),
        Route("/admin/sources/collect", collect_now, methods=["POST"]),
        Route("/admin/audit", audit_page, methods=["GET", "HEAD"]),
    ]

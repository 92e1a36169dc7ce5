"""`GET /healthz`: 200 when healthy, 503 (with the reason) when not.

Healthy means: the database answers and its schema is current; when this process runs
the scheduler, its leader loop has checked in recently; and, when this process is the
leader (the one that collects), the last successful collection is not stale (older than
three times the slowest source's interval, and at least an hour). A web-only instance
(`serve`, or a standby) is not judged by collection: restarting it would not help. Jobs
running (a long send) are reported with their progress and keep the answer 200: they run
beside the leader loop, which keeps checking in.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from m5syndicate.errors import StoreError
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate
from m5syndicate.web.render import runtime_of


class SchedulerState(Protocol):
    """What /healthz reads of the scheduler that `run` hands to the app."""

    @property
    def leading(self) -> bool: ...

    @property
    def alive_at(self) -> datetime | None: ...

    @property
    def check_seconds(self) -> float: ...

    @property
    def active(self) -> dict[str, datetime]: ...  # running jobs -> when they started

    @property
    def sending(self) -> dict[str, dict[str, Any]]: ...  # edition -> its progress


def scheduler_of(request: Request) -> SchedulerState | None:
    scheduler: SchedulerState | None = request.app.state.scheduler
    return scheduler


async def healthz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    try:
        await asyncio.to_thread(migrate.require_current, runtime.engine)
        _, _, collection_age = await asyncio.to_thread(runtime.store_figures)
    except StoreError as exc:
        return JSONResponse({"ok": False, "database": str(exc)}, status_code=503)
    report: dict[str, Any] = {"ok": True, "database": "ok"}
    scheduler = scheduler_of(request)
    problems = scheduler_problems(runtime, scheduler)
    problems += collection_problems(runtime, scheduler, collection_age)
    report["last_collection_age_seconds"] = collection_age
    if scheduler is not None:
        report["scheduler"] = "leader" if scheduler.leading else "standby"
        # A running send is work, not a fault: shown, never a reason for 503.
        report["jobs_running"] = {name: at.isoformat() for name, at in scheduler.active.items()}
        report["sending"] = dict(scheduler.sending)
    if problems:
        report.update(ok=False, problems=problems)
        return JSONResponse(report, status_code=503)
    return JSONResponse(report)


def scheduler_problems(runtime: Runtime, scheduler: SchedulerState | None) -> list[str]:
    if scheduler is None:
        return []
    limit = timedelta(seconds=3 * scheduler.check_seconds + 5)
    if scheduler.alive_at is None or runtime.clock() - scheduler.alive_at > limit:
        return ["the scheduler's leader loop has not checked in"]
    return []


def collection_problems(
    runtime: Runtime, scheduler: SchedulerState | None, age: float | None
) -> list[str]:
    sources = [s for s in runtime.settings.sources if s.enabled]
    collects_here = scheduler is not None and scheduler.leading
    if not collects_here or not sources or age is None:
        return []
    stale = max(3 * max(s.every_seconds for s in sources), 3600)
    if age > stale:
        return [f"no successful collection for {int(age)} s (stale after {stale} s)"]
    return []


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET", "HEAD"])]

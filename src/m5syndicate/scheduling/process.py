"""The long-running processes:

- `serve_and_schedule` (`m5syndicate run`): the web app and the scheduler in one event
  loop. SIGTERM/SIGINT: the web server stops accepting, the scheduler stops firing,
  senders stop claiming, finish the mail in flight and release the rest; then it exits.
- `work` (`m5syndicate worker`): no web, no scheduler; it joins the delivery of any
  frozen edition through the ledger's claims, until told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

import uvicorn

from m5syndicate.delivery.send import SendOptions
from m5syndicate.errors import StoreError
from m5syndicate.flows import send_now
from m5syndicate.runtime import Runtime
from m5syndicate.scheduling.jobs import build_jobs
from m5syndicate.scheduling.leader import FileLeadership, Leadership, leadership_for
from m5syndicate.scheduling.service import SendBoard, Service
from m5syndicate.web.app import create_app
from m5syndicate.web.serving import server_options

log = logging.getLogger("m5.run")
SHUTDOWN_GRACE_SECONDS = 60.0  # for jobs to finish what is in flight
WORKER_IDLE_SECONDS = 10.0


def claim_leadership(runtime: Runtime) -> Leadership:
    """On SQLite, refuse a second `run` at once; on PostgreSQL, wait our turn."""
    leadership = leadership_for(runtime.engine)
    if isinstance(leadership, FileLeadership) and not leadership.acquire():
        raise StoreError(
            f"run: another `m5syndicate run` (pid {leadership.holder()}) already uses "
            f"{runtime.settings.database.url}; SQLite allows one. Stop it, or move to "
            "PostgreSQL to run several instances"
        )
    return leadership


def on_signals(stopping: asyncio.Event, server: uvicorn.Server | None = None) -> None:
    """SIGTERM/SIGINT set ``stopping`` (and stop the web server). Installed with
    signal.signal because uvicorn restores and re-raises through these handlers."""
    loop = asyncio.get_running_loop()

    def handle(signum: int, frame: object) -> None:
        if server is not None:
            server.should_exit = True
        loop.call_soon_threadsafe(stopping.set)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)


async def serve_and_schedule(
    runtime: Runtime, leadership: Leadership, host: str, port: int
) -> None:
    settings = runtime.settings
    stopping = asyncio.Event()
    board = SendBoard()
    service = Service(
        runtime.engine,
        runtime.metrics,
        build_jobs(runtime, stopping, board),
        leadership,
        timezone=settings.site.timezone,
        grace=timedelta(seconds=settings.schedule.catch_up_grace_seconds),
        check_seconds=settings.schedule.leader_check_seconds,
        clock=runtime.clock,
        board=board,
        outage_grace=settings.database.outage_grace_seconds,
    )
    config = uvicorn.Config(
        create_app(runtime, service),
        host=host,
        port=port,
        log_config=None,
        **server_options(settings.web),
    )
    server = uvicorn.Server(config)
    on_signals(stopping, server)
    leader = asyncio.create_task(service.lead_when_possible(stopping))
    leader.add_done_callback(lambda _: setattr(server, "should_exit", True))
    await server.serve()
    stopping.set()
    await leader
    await service.finish_running(SHUTDOWN_GRACE_SECONDS)
    await runtime.aclose()
    if service.failure:
        raise StoreError(service.failure)
    log.info("stopped")


async def work(runtime: Runtime) -> None:
    stopping = asyncio.Event()
    on_signals(stopping)
    log.info("worker started: joining editions being delivered")
    while not stopping.is_set():
        options = SendOptions(resume_only=True)
        report = await send_now(runtime.sending, runtime.clock(), options, stopping)
        if not report.editions:
            try:
                await asyncio.wait_for(stopping.wait(), timeout=WORKER_IDLE_SECONDS)
            except TimeoutError:
                continue
    await runtime.aclose()
    log.info("worker stopped")

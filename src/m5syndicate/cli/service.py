"""`m5syndicate run` and `m5syndicate worker`: the long-running processes."""

from __future__ import annotations

import asyncio

import click

from m5syndicate.cli.base import Context, main, pass_context
from m5syndicate.logs import configure_logging
from m5syndicate.scheduling.process import claim_leadership, serve_and_schedule, work
from m5syndicate.store import migrate


@main.command()
@click.option("--host", help="Address to listen on [default: [web] host].")
@click.option("--port", type=int, help="Port to listen on [default: [web] port].")
@click.option("--log-json", is_flag=True, help="One JSON object per log line.")
@pass_context
def run(obj: Context, host: str | None, port: int | None, log_json: bool) -> None:
    """The production entry: the web app and the scheduler in one process.

    Collects each source when due and rebuilds changed feeds, sends instant editions
    after collections, the daily and weekly digests on schedule (caught up after
    downtime within [schedule] catch_up_grace), retries, and prunes old ledger rows.
    With several instances on PostgreSQL exactly one leads; on SQLite a second one
    refuses to start. SIGTERM: in-flight mail is finished, the rest released.
    """
    runtime = obj.runtime()
    settings = runtime.settings
    obj.warn_about_setup(settings)
    configure_logging(log_json or settings.schedule.log_json)
    migrate.require_current(runtime.engine)
    runtime.link_signer  # noqa: B018 -- fails now, with the fix, if M5_SECRET_KEY is unset
    leadership = claim_leadership(runtime)
    web = settings.web
    asyncio.run(serve_and_schedule(runtime, leadership, host or web.host, port or web.port))


@main.command()
@click.option("--log-json", is_flag=True, help="One JSON object per log line.")
@pass_context
def worker(obj: Context, log_json: bool) -> None:
    """Join the delivery of editions being sent (no scheduler, no web): run several,
    on several machines, against one PostgreSQL; they share work through the ledger."""
    runtime = obj.runtime()
    configure_logging(log_json or runtime.settings.schedule.log_json)
    migrate.require_current(runtime.engine)
    runtime.link_signer  # noqa: B018 -- fails now, with the fix, if M5_SECRET_KEY is unset
    asyncio.run(work(runtime))

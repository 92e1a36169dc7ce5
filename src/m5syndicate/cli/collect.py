"""`m5syndicate collect` and `m5syndicate sources`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import click

from m5syndicate.cli.base import Context, echo_table, main, pass_context
from m5syndicate.cli.text import plural
from m5syndicate.collect.health import source_health
from m5syndicate.collect.refresh import SourceReport
from m5syndicate.flows import CycleReport, collect_cycle
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate


@main.command()
@click.option("--source", "only", metavar="NAME", help="Collect only this source, due or not.")
@click.option("--force", is_flag=True, help="Collect every enabled source, due or not.")
@pass_context
def collect(obj: Context, only: str | None, force: bool) -> None:
    """Fetch every due source now (or one) and store what is new.

    Prints, per source, how many articles were new, updated and unchanged, or why it
    failed. Exits 1 if any source failed (what the others brought is stored).
    """
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    cycle = asyncio.run(collect_now(runtime, only, force))
    rows = [report_row(report) for report in cycle.sources]
    echo_table(rows, ("source", "new", "updated", "unchanged", "result"))
    for report in cycle.sources:
        for problem in report.item_errors:
            click.echo(f"  {report.name}: skipped {problem}")
    if cycle.feeds is not None:
        feeds = cycle.feeds
        click.echo(f"feeds: {plural(len(feeds.written), 'feed')} rewritten in {feeds.out_dir}")
        for problem in feeds.ping_errors:
            click.echo(f"  websub: {problem}")
    if cycle.failed:
        sys.exit(1)


async def collect_now(runtime: Runtime, only: str | None, force: bool) -> CycleReport:
    try:
        return await collect_cycle(runtime.collect_parts(), runtime.clock(), only=only, force=force)
    finally:
        await runtime.aclose()


def report_row(report: SourceReport) -> tuple[str, ...]:
    if not report.collected:
        return (report.name, "-", "-", "-", f"not due until {when(report.not_due_until)}")
    if report.failed:
        result = f"FAILED: {report.error} (next check {when(report.next_check_at)})"
    elif report.not_modified:
        result = "ok, not modified"
    else:
        result = "ok"
    if report.ignored:
        result += f", {plural(report.ignored, 'article')} outside its categories"
    counts = (str(len(report.new)), str(len(report.updated)), str(report.unchanged))
    return (report.name, *counts, result)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the health as JSON, for machines.")
@pass_context
def sources(obj: Context, as_json: bool) -> None:
    """Each source's health: last success, consecutive errors, next check, the last error
    (in full, its reason first) and the items the last run skipped."""
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    found = source_health(runtime.engine, runtime.settings.sources)
    if as_json:
        click.echo(json.dumps([health.as_json() for health in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no sources configured; add [[sources]] tables to the config")
        return
    rows = [
        (
            health.name,
            health.type,
            health.state,
            when(health.last_success_at),
            health.error_count,
            when(health.next_check_at) if health.state == "enabled" else "-",
            health.last_error or "-",  # last: a long reason wraps without shifting columns
        )
        for health in found
    ]
    header = ("source", "type", "state", "last success", "errors", "next check", "last error")
    echo_table(rows, header)
    for health in found:
        for problem in health.skipped_items:
            click.echo(f"  {health.name}: skipped {problem}")


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"

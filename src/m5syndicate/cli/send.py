"""`m5syndicate send` and `m5syndicate preview`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType

import click

from m5syndicate.cli.base import Context, echo_table, main, pass_context
from m5syndicate.cli.text import plural
from m5syndicate.config import CADENCES
from m5syndicate.delivery import holds
from m5syndicate.delivery.preview import (
    EditionPlan,
    edition_to_show,
    plan_send,
    recipient_by_email,
    render_preview,
    sample_recipient,
    send_test,
)
from m5syndicate.delivery.processes import (
    ChildJob,
    ProcessGroup,
    child_jobs,
    ignore_interrupts,
    serve_as_child,
)
from m5syndicate.delivery.send import (
    Progress,
    SendOptions,
    SendReport,
    close_after_processes,
    open_due_editions,
    send_due,
)
from m5syndicate.errors import DeliveryError, InputError
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate
from m5syndicate.subscribers.links import LinkSigner

FAILURES_SHOWN = 50
PROCESS_DIED = "a sending process died"


def cores() -> int:
    """The cores this process may run on (its affinity), not merely the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@main.command()
@click.option("--cadence", type=click.Choice(CADENCES), help="Only this cadence [default: all].")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option(
    "--test-to",
    metavar="ADDR",
    help="Send the edition to ADDR as --subscriber (or a sample subscriber) would get it, "
    "outside the ledger; marked [TEST], its links inert.",
)
@click.option("--subscriber", metavar="EMAIL", help="With --test-to: whose digest to send.")
@click.option("--limit", type=click.IntRange(min=1), help="Handle at most N deliveries.")
@click.option(
    "--retry-failed", is_flag=True, help="Give failed deliveries of the editions another go."
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=cores,
    show_default="the number of cores",
    help="Sending processes sharing the work through the ledger; [delivery] concurrency "
    "and rate_per_second are split among them. Fewer are started when there is less than "
    "a batch ([delivery] batch_size) each. 1: send in this process.",
)
@click.option(
    "--resume",
    "resume_slug",
    metavar="EDITION",
    help="Resume EDITION (e.g. daily-2026-11-28), held by the bounce guard rail or an "
    "admin, then send. Relay pauses need no flag: every send resumes them.",
)
@pass_context
def send(
    obj: Context,
    cadence: str | None,
    dry_run: bool,
    test_to: str | None,
    subscriber: str | None,
    limit: int | None,
    retry_failed: bool,
    processes: int,
    resume_slug: str | None,
) -> None:
    """Freeze the due edition(s) and deliver them, resuming any unfinished one.

    Safe to run again at any time, also after a crash: nobody gets an edition twice.
    Shows progress and a summary; exit code 3 when some deliveries failed permanently.
    Ctrl-C or SIGTERM: every process finishes its messages in flight and releases the
    rest; a second one aborts (what was claimed comes back after [delivery] lease_seconds).
    """
    runtime = obj.runtime()
    if not dry_run:
        obj.warn_about_setup(runtime.settings)
    migrate.require_current(runtime.engine)
    cadences = (cadence,) if cadence else CADENCES
    if dry_run:
        print_plans(runtime, plan_send(runtime.engine, runtime.settings, runtime.clock(), cadences))
        return
    if test_to:
        test_send(runtime, cadence or "daily", test_to, subscriber)
        return
    if subscriber:
        raise InputError("send: --subscriber goes with --test-to")
    if resume_slug:
        resumed = holds.resume_by_slug(runtime.engine, resume_slug)
        click.echo(f"{resumed.slug}: resumed ({resumed.pause or resumed.state})")
    options = SendOptions(cadences=cadences, limit=limit, retry_failed=retry_failed)
    if processes > 1:
        report = send_with_processes(runtime, options, processes)
    else:
        report = asyncio.run(run_send(runtime, options))
    print_report(report)
    finish(report)


async def run_send(runtime: Runtime, options: SendOptions) -> SendReport:
    runtime.link_signer  # noqa: B018 -- fails early, saying how, when M5_SECRET_KEY is unset
    stop = asyncio.Event()
    install_stop_handlers(stop)
    async with runtime.sending() as parts:
        return await send_due(parts, runtime.clock(), options, stop, ProgressLine())


def send_with_processes(runtime: Runtime, options: SendOptions, wanted: int) -> SendReport:
    """The parent of `send --processes N`: open the editions, start the children, add up
    their work. It sends nothing itself (delivery/processes.py)."""
    runtime.link_signer  # noqa: B018 -- fails early, saying how, when M5_SECRET_KEY is unset
    now = runtime.clock()
    engine, settings = runtime.engine, runtime.settings
    opened = asyncio.run(open_due_editions(engine, settings, now, options))
    count = opened.processes_for(wanted, settings)
    if count == 1:
        return asyncio.run(run_send(runtime, options))
    engine.dispose()  # no pooled connection is copied into a forked child
    jobs = child_jobs(settings, options, now, count, opened.budget.left)
    group = ProcessGroup(sending_process, jobs)
    for entry in opened.editions:
        group.expect(entry.edition.slug, entry.total, entry.finished)
    click.echo(f"sending with {count} processes", err=True)
    with stop_on_signals(group):
        group.start()
        group.watch(ProgressLine())
    elapsed = group.elapsed()
    group.raise_failure()
    report = close_after_processes(engine, opened, group.reports, elapsed, runtime.clock())
    if group.stopping:  # asked to stop (a child that failed has raised above)
        report.stopped = "interrupted"
    elif group.died:
        for died in group.died:
            click.secho(f"warning: {died}", fg="yellow", err=True)
        left = sum(r.counts["pending"] + r.counts["sending"] for r in report.editions)
        report.stopped = report.stopped or (PROCESS_DIED if left or not report.editions else "")
    return report


def sending_process(job: ChildJob, pipe: Connection) -> None:
    """One child of `send --processes N` (module level: "spawn" finds it by name). A
    forked child builds its own runtime: nothing of the parent's is shared."""
    ignore_interrupts()
    runtime = Runtime(job.settings)
    try:
        asyncio.run(serve_as_child(runtime.sending, job, pipe))
    finally:
        runtime.close()


@contextlib.contextmanager
def stop_on_signals(group: ProcessGroup) -> Iterator[None]:
    """First SIGINT/SIGTERM: every child stops cleanly. Second: kill them."""
    signals = (signal.SIGINT, signal.SIGTERM)
    received = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            click.echo(
                "\nstopping: every process finishes the messages in flight, then releases "
                "the rest (press Ctrl-C again to abort)",
                err=True,
            )
            group.stop()
        else:
            click.echo("\naborting: what was claimed comes back after the lease", err=True)
            group.abort()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def install_stop_handlers(stop: asyncio.Event) -> None:
    """First SIGINT/SIGTERM: stop claiming, finish what is in flight. Second: abort."""
    loop = asyncio.get_running_loop()

    def first(signum: int) -> None:
        click.echo(
            "\nstopping: finishing the messages in flight, then releasing the rest "
            "(press Ctrl-C again to abort)",
            err=True,
        )
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first, sig)


class ProgressLine:
    """sent, failed, rate and ETA on one line (a new line every 5 s when not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else 5.0
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        done = progress.finished >= progress.total
        if now - self.last < self.every and not done:
            return
        self.last = now
        eta = progress.eta_seconds
        line = (
            f"{progress.edition}: {progress.finished}/{progress.total} "
            f"sent {progress.tally.sent} failed {progress.tally.failed} "
            f"skipped {progress.tally.skipped} retrying {progress.tally.retried} "
            f"{progress.rate:.0f} msg/s ETA {duration(eta) if eta is not None else '-'}"
        )
        if self.tty:
            click.echo("\r" + line.ljust(100) + ("\n" if done else ""), err=True, nl=False)
        else:
            click.echo(line, err=True)


def duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def print_report(report: SendReport) -> None:
    if not report.editions:
        click.echo("nothing to send: no due edition has new articles or pending deliveries")
        return
    rows = [
        (
            r.edition.slug,
            r.edition.state,
            r.tally.sent,
            r.tally.failed,
            r.tally.skipped,
            r.counts["pending"] + r.counts["sending"],
            sum(r.counts.values()),
            duration(r.elapsed),
            f"{r.tally.sent / r.elapsed:.0f}/s" if r.elapsed > 0 else "-",
        )
        for r in report.editions
    ]
    click.echo()
    echo_table(
        rows,
        ("edition", "state", "sent", "failed", "skipped", "left", "total", "took", "rate"),
    )
    failures = report.failures
    if failures:
        click.echo(f"\n{plural(len(failures), 'delivery', 'deliveries')} failed permanently:")
        for email, code, reply in failures[:FAILURES_SHOWN]:
            click.echo(f"  {email}: {code or '-'} {reply}")
        if len(failures) > FAILURES_SHOWN:
            click.echo(f"  ... and {len(failures) - FAILURES_SHOWN} more")
        click.echo("Fix what they say, then `m5syndicate send --retry-failed` tries them again.")


def finish(report: SendReport) -> None:
    if report.paused:
        raise DeliveryError("send: paused: " + " / ".join(report.paused))
    if report.stopped:
        left = sum(r.counts["pending"] + r.counts["sending"] for r in report.editions)
        left_pending = plural(left, "delivery", "deliveries")
        message = f"send: stopped early ({report.stopped}); {left_pending} left pending"
        if report.stopped in ("interrupted", PROCESS_DIED):
            raise DeliveryError(message + "; run `m5syndicate send` again to finish")
        click.echo(message + "; run `m5syndicate send` again to go on")
    if report.failures:
        sys.exit(3)


def print_plans(runtime: Runtime, plans: list[EditionPlan]) -> None:
    if not plans:
        click.echo("nothing to send: no due edition has new articles or pending deliveries")
        return
    rate = runtime.settings.delivery.rate_per_second
    for plan in plans:
        edition = plan.edition
        kind = "stored" if plan.stored else "draft, frozen when `send` runs"
        click.echo(f"edition {edition.slug} ({kind}): {plural(len(edition.articles), 'article')}")
        if plan.ledger:
            click.echo("  ledger: " + ", ".join(f"{k} {v}" for k, v in sorted(plan.ledger.items())))
        for variant in plan.variants:
            more = f", {variant.more} more linked" if variant.more else ""
            click.echo(
                f"  {variant.language} {variant.format}: "
                f"{plural(variant.recipients, 'recipient')}, "
                f"{plural(len(variant.titles), 'article')}{more}"
            )
            for title in variant.titles:
                click.echo(f"    - {title}")
        for reason, count in plan.skipped.items():
            click.echo(f"  skipped {count}: {reason}")
        expected = (
            f"about {duration(plan.recipients / rate)} at {rate:g} msg/s"
            if rate > 0
            else "as fast as the relay allows ([delivery] rate_per_second = 0)"
        )
        click.echo(f"  {plural(plan.recipients, 'message')}, {expected}")


def test_send(runtime: Runtime, cadence: str, to: str, subscriber: str | None) -> None:
    settings = runtime.settings
    recipient = (
        recipient_by_email(runtime.engine, subscriber)
        if subscriber
        else sample_recipient(settings.site.language)
    )
    edition = edition_to_show(runtime.engine, cadence, runtime.clock(), settings)

    async def deliver() -> str:
        transport = runtime.new_transport()
        try:
            parts = runtime.send_parts(transport)
            preview = render_preview(parts, edition, recipient, runtime.clock(), to=to, test=True)
            return await send_test(parts, preview, to)
        finally:
            await transport.close()

    reply = asyncio.run(deliver())
    click.echo(
        f"sent {edition.slug} as {recipient.email} would get it to {to} "
        f"(subject marked [TEST], links inert): {reply}"
    )


@main.command()
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True)
@click.option("--lang", type=click.Choice(("tr", "en")), help="[default: site.language]")
@click.option("--subscriber", metavar="EMAIL", help="Render what this subscriber would get.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write; the .eml goes beside it [default: var/preview/<edition>.html].",
)
@pass_context
def preview(
    obj: Context, cadence: str, lang: str | None, subscriber: str | None, out: Path | None
) -> None:
    """Render the next (or latest) digest to an HTML file and a .eml; send nothing."""
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    settings = runtime.settings
    if subscriber:
        recipient = recipient_by_email(runtime.engine, subscriber)
    else:
        recipient = sample_recipient(lang or settings.site.language)
    edition = edition_to_show(runtime.engine, cadence, runtime.clock(), settings)
    inert = None
    if not settings.web.secret_key.get_secret_value():
        click.echo("note: M5_SECRET_KEY is unset; the links in this preview do not work", err=True)
        inert = LinkSigner(settings.site.public_url, "preview only")
    parts = runtime.send_parts(runtime.new_transport(), inert)
    shown = render_preview(parts, edition, recipient, runtime.clock())
    target = out or Path("var/preview") / f"{edition.slug}-{recipient.language}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    page = shown.html if shown.html is not None else f"<pre>{escape_text(shown.text)}</pre>"
    target.write_text(page, encoding="utf-8")
    eml = target.with_suffix(".eml")
    eml.write_bytes(shown.message)
    click.echo(f"{edition.slug}: {shown.subject}")
    click.echo(f"  html  {target} ({len(page.encode('utf-8')):,} bytes)")
    click.echo(f"  eml   {eml} ({len(shown.message):,} bytes)")


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

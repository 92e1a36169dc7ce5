"""`m5syndicate subscribers ...`: add, import, export, list, remove, suppress, forget."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from m5syndicate.cli.base import Context, echo_table, main, pass_context
from m5syndicate.cli.text import plural
from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.errors import InputError, M5Error
from m5syndicate.models import SUBSCRIBER_STATES, Subscriber
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.csvio import (
    DecodedLines,
    Defaults,
    ImportReport,
    export_subscribers,
    import_subscribers,
)
from m5syndicate.subscribers.subscriptions import (
    FORMATS,
    Consent,
    add_subscriber,
    available_categories,
    check_known_categories,
    request_confirmation,
)


@main.group()
def subscribers() -> None:
    """Manage subscribers: add, import, export, list, remove, suppress, forget."""


def ready(obj: Context) -> Runtime:
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    return runtime


def cli_consent(runtime: Runtime) -> Consent:
    return Consent("cli", runtime.settings.newsletter.consent_version)


@subscribers.command("add")
@click.argument("email")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), default="tr", show_default=True)
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="A category slug of the collected articles (as the subscribe form offers); repeat for "
    "more. None: every category.",
)
@click.option("--name", default="", help="The subscriber's name.")
@click.option(
    "--confirmed",
    is_flag=True,
    help="Consent was confirmed elsewhere: no confirmation mail. Without it the address is "
    "pending and a confirmation mail is sent.",
)
@pass_context
def add(
    obj: Context,
    email: str,
    language: str,
    cadence: str,
    fmt: str,
    categories: tuple[str, ...],
    name: str,
    confirmed: bool,
) -> None:
    """Add one subscriber."""
    runtime = ready(obj)
    known = {category.slug for category in available_categories(runtime.engine)}
    check_known_categories(categories, known)
    subscriber = Subscriber(
        email, language, cadence, fmt, "confirmed" if confirmed else "pending", name, [*categories]
    )
    now = runtime.clock()
    version = runtime.settings.newsletter.consent_version
    new_id, outcome = add_subscriber(runtime.engine, subscriber, now, "cli", version)
    click.echo(f"{email}: {outcome}" + (f" (id {new_id})" if new_id else ""))
    if outcome == "added" and not confirmed and new_id is not None:
        confirmation = request_confirmation(runtime.engine, new_id, now)
        if confirmation is not None:
            mail = runtime.notices.confirmation(confirmation, now)
            asyncio.run(runtime.transport.send(mail))
            click.echo(f"{email}: confirmation mail sent; pending until confirmed")


ENCODINGS = ("utf-8", "windows-1254")  # UTF-8, or Turkish Windows' "ANSI" (Excel's plain CSV)


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    default="utf-8",
    show_default=True,
    help='The file\'s encoding: windows-1254 for a plain "CSV" saved by Excel on a Turkish '
    'Windows ("CSV UTF-8" is utf-8).',
)
@pass_context
def import_command(obj: Context, file: Path, encoding: str) -> None:
    """Import a CSV file with a header row: email, language, cadence, categories (comma
    separated, quoted), name, confirmed (true/false). Cells are separated by `,`, `;`
    or tabs (found from the header); a UTF-8 byte order mark is fine.

    Bad rows (a bad address, an unknown category, a byte that is not text in the
    encoding, a quote left open) are listed with their line number and reason; good rows
    are kept. Addresses already present (or suppressed) are left as they are, so
    importing twice changes nothing. No mail is sent. Exits 1 when some rows were bad.
    """
    runtime = ready(obj)
    site = runtime.settings.site
    try:
        with file.open("rb") as handle:
            lines = DecodedLines(handle, encoding)
            report = import_subscribers(
                runtime.engine,
                lines,
                runtime.clock(),
                consent_version=runtime.settings.newsletter.consent_version,
                defaults=Defaults(language=site.language),
            )
    except FileNotFoundError:
        raise InputError(f"import: {file} does not exist") from None
    except OSError as exc:
        raise InputError(f"import: cannot read {file}: {exc.strerror}") from None
    for line, reason in report.errors:
        click.echo(f"{file}:{line}: {reason}", err=True)
    if lines.bad and encoding == "utf-8":
        click.echo(
            f"{file}: {plural(len(lines.bad), 'line')} not UTF-8: if Excel saved it as plain "
            '"CSV" on a Turkish Windows, import it with --encoding windows-1254, or save it '
            'as "CSV UTF-8" and import again (the rows already in are left as they are)',
            err=True,
        )
    click.echo(import_summary(report))
    if report.errors:
        raise M5Error(
            f"import: {plural(len(report.errors), 'bad row')} (listed above) not imported; "
            "fix them and import the file again: the good rows are in"
        )


def import_summary(report: ImportReport) -> str:
    return (
        f"stored {plural(report.added, 'new subscriber')}; "
        f"{report.existing} already there, {report.suppressed} suppressed (left as they are), "
        f"{plural(len(report.errors), 'bad row')}"
    )


@subscribers.command("export")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File [default: stdout]."
)
@click.option("--status", type=click.Choice(SUBSCRIBER_STATES), help="Only this status.")
@pass_context
def export(obj: Context, out: Path | None, status: str | None) -> None:
    """Write subscribers as CSV: the import columns, then format, status, dates and the
    consent events (JSON). A cell starting with =, +, -, @, a tab or CR gets a leading '
    so a spreadsheet does not run it as a formula; `import` removes it again."""
    runtime = ready(obj)
    if out is None:
        export_subscribers(runtime.engine, sys.stdout, status)
        return
    temporary = out.with_name(out.name + ".part")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        count = export_subscribers(runtime.engine, handle, status)
    temporary.replace(out)
    click.echo(f"exported {plural(count, 'subscriber')} to {out}", err=True)


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATES), help="Only this status.")
@click.option("--search", default="", help="Part of the address or name.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@pass_context
def list_command(obj: Context, status: str | None, search: str, limit: int, offset: int) -> None:
    """List subscribers by id."""
    runtime = ready(obj)
    found = roster.list_subscribers(runtime.engine, status, search, limit, offset)
    rows = [
        (s.id, s.email, s.status, s.language, s.cadence, s.format, ",".join(s.categories) or "all")
        for s in found
    ]
    echo_table(rows, ("id", "email", "status", "lang", "cadence", "format", "categories"))


@subscribers.command("remove")
@click.argument("email")
@pass_context
def remove(obj: Context, email: str) -> None:
    """Unsubscribe an address; its consent record is kept (see `forget`)."""
    runtime = ready(obj)
    changed = roster.remove(runtime.engine, email, runtime.clock(), cli_consent(runtime))
    click.echo(f"{email}: " + ("unsubscribed" if changed else "was already unsubscribed"))


@subscribers.command("suppress")
@click.argument("email")
@click.option("--reason", default="admin", show_default=True, help="Kept with the suppression.")
@pass_context
def suppress(obj: Context, email: str, reason: str) -> None:
    """Never mail an address again (ends its subscription if it has one)."""
    runtime = ready(obj)
    added = roster.suppress(runtime.engine, email, runtime.clock(), cli_consent(runtime), reason)
    click.echo(f"{email}: " + ("suppressed" if added else "was already suppressed"))


@subscribers.command("unsuppress")
@click.argument("email")
@pass_context
def unsuppress(obj: Context, email: str) -> None:
    """Mail an address again (undo a suppression, e.g. a bounce read wrongly); recorded
    as a consent event. A subscription the suppression ended stays ended."""
    runtime = ready(obj)
    reason = roster.unsuppress(runtime.engine, email, runtime.clock(), cli_consent(runtime))
    if reason is None:
        click.echo(f"{email}: was not suppressed")
        return
    click.echo(f"{email}: no longer suppressed (it was: {reason[:200]})")


@subscribers.command("forget")
@click.argument("email")
@pass_context
def forget(obj: Context, email: str) -> None:
    """Erase an address and all its data (preferences, consent events, deliveries); keep
    only a SHA-256 of it so it is never mailed again."""
    runtime = ready(obj)
    erased = roster.forget(runtime.engine, email, runtime.clock(), "cli")
    click.echo(
        f"{email}: "
        + ("erased; only its hash is kept" if erased else "not a subscriber")
        + "; suppressed"
    )

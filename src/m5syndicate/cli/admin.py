"""Admin commands: `db upgrade`, `config show`, `status`, `admin add-user`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from m5syndicate.admins.accounts import add_admin
from m5syndicate.cli.base import Context, echo_table, main, pass_context
from m5syndicate.cli.bounces import show_bounce_rates
from m5syndicate.config import as_redacted_dict
from m5syndicate.runtime import Runtime
from m5syndicate.scheduling.jobs import job_triggers, next_run
from m5syndicate.store import migrate
from m5syndicate.store.jobs import JobRun
from m5syndicate.store.status import read_status


@main.group()
def db() -> None:
    """Create or migrate the database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Create or migrate the schema to the newest revision (SQLite or PostgreSQL)."""
    runtime = obj.runtime()
    before, after = migrate.upgrade(runtime.engine)
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML-like text.")
@pass_context
def config_show(obj: Context, as_json: bool) -> None:
    """Print the effective configuration (file + env), secrets redacted."""
    settings = obj.settings()
    data = as_redacted_dict(settings)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"# read from: {settings.path}")
    for section, values in data.items():
        if section == "sources":
            for source in values:
                click.echo("\n[[sources]]")
                print_values(source)
        else:
            click.echo(f"\n[{section}]")
            print_values(values)


def print_values(values: dict[str, object]) -> None:
    for key, value in values.items():
        click.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}")


@main.command()
@pass_context
def status(obj: Context) -> None:
    """Counts: articles, subscribers by state, editions, deliveries, failing sources."""
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    report = read_status(runtime.engine)
    for title, counts in report.sections():
        click.echo(f"{title}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))
    if report.paused:
        click.echo(
            "\npaused editions (cause: relay resumes by itself; guard_rail, admin: "
            "`m5syndicate send --resume EDITION` or the console):"
        )
        echo_table(
            [(e.slug, e.state, e.pause_cause, e.pause_reason) for e in report.paused],
            ("edition", "state", "cause", "reason"),
        )
    show_jobs(runtime, report.jobs)
    show_bounce_rates(runtime.engine)
    if report.failing_sources:
        click.echo("\nfailing sources:")
        echo_table(report.failing_sources, ("source", "errors", "next check", "last error"))
    if report.skipped_items:
        click.echo("\nitems skipped by the last collection (the rest was stored):")
        for name, problem in report.skipped_items:
            click.echo(f"  {name}: {problem}")


def show_jobs(runtime: Runtime, runs: list[JobRun]) -> None:
    """Last and next run of each scheduled job (`m5syndicate run` fires them)."""
    now = runtime.clock()
    by_name = {run.name: run for run in runs}
    rows = []
    for name, trigger in job_triggers(runtime.settings).items():
        run = by_name.get(name)
        last = run.last_started_at if run else None
        outcome = (run.last_status or "-") if run else "never ran"
        if run and run.last_error:
            outcome += f": {run.last_error[:60]}"
        rows.append((name, moment(last), outcome, moment(next_run(trigger, last, now))))
    click.echo("\njobs (fired by `m5syndicate run`):")
    echo_table(rows, ("job", "last run", "result", "next run"))


def moment(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "never"


@main.group("admin")
def admin_group() -> None:
    """The people who may log in to the web console (/admin)."""


@admin_group.command("add-user")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting twice.",
)
@pass_context
def admin_add_user(obj: Context, email: str, password_stdin: bool) -> None:
    """Add a console admin EMAIL, or set a new password for an existing one (Argon2id;
    at least 12 characters)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    outcome = add_admin(runtime.engine, email, password, runtime.clock())
    click.echo(f"admin {email}: {'added' if outcome == 'added' else 'password changed'}")

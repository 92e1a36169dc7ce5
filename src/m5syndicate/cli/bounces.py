"""`m5syndicate bounces`: read the bounce mailbox once; `status` shows the rates."""

from __future__ import annotations

import click
from sqlalchemy.engine import Engine

from m5syndicate.bounces.inbox import read_configured_mailbox
from m5syndicate.bounces.record import Tally
from m5syndicate.cli.base import Context, echo_table, main, pass_context
from m5syndicate.store import migrate
from m5syndicate.store.bounces import edition_rates


@main.command()
@pass_context
def bounces(obj: Context) -> None:
    """Read the bounce mailbox ([bounces] mailbox) once and act on what came back.

    RFC 3464 bounces, RFC 5965 complaints, the common non-standard bounce formats and
    mails to the unsubscribe+TOKEN@ address are recorded on the ledger and the
    subscriber: a hard bounce or a complaint suppresses the address, soft bounces do
    past [bounces] soft_limit, an unsubscribe mail unsubscribes. Each mail is then moved
    to the Processed folder; one that cannot be understood is kept (flagged) and counted.
    `m5syndicate run` does this every [bounces] every.
    """
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    tally = read_configured_mailbox(runtime.engine, runtime.settings, runtime.clock)
    echo_tally(tally)


def echo_tally(tally: Tally) -> None:
    recorded = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.recorded.items())) or "nothing"
    click.echo(
        f"bounces: {tally.read} mails read; recorded {recorded}; "
        f"{tally.suppressed} suppressed, {tally.unsubscribed} unsubscribed, "
        f"{tally.ignored} not bounces, {tally.repeated} seen before"
    )
    if tally.unreadable or tally.unmatched:
        click.secho(
            f"warning: {tally.unreadable} mails could not be read and {tally.unmatched} "
            "findings named nobody we know; those mails are kept in the mailbox, flagged",
            fg="yellow",
            err=True,
        )
    for paused in tally.paused:
        click.secho(f"edition paused: {paused}", fg="red", err=True)


def show_bounce_rates(engine: Engine) -> None:
    """Per edition with anything back: sent, hard/soft bounces, complaints and rates."""
    with engine.connect() as conn:
        rates = edition_rates(conn)[:20]
    if not rates:
        return
    rows = [
        (
            f"{r.cadence} {r.period_key}",
            r.state,
            r.sent,
            r.hard,
            f"{r.hard_rate:.2%}",
            r.soft,
            r.complaints,
            f"{r.complaint_rate:.3%}",
        )
        for r in rates
    ]
    click.echo("\nbounces and complaints per edition (newest first):")
    echo_table(
        rows, ("edition", "state", "sent", "hard", "hard rate", "soft", "complaints", "rate")
    )

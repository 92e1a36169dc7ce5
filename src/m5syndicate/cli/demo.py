"""`m5syndicate demo`."""

from __future__ import annotations

from pathlib import Path

import click

from m5syndicate.cli.base import main
from m5syndicate.cli.text import plural
from m5syndicate.demo import DEMO_NOW, DEMO_VISITOR, run_demo


@main.command()
@click.option(
    "--dir",
    "folder",
    default="var/demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's database, feeds and outbox.",
)
def demo(folder: Path) -> None:
    """Run the whole flow on bundled sample data: no network, no SMTP server needed.

    Safe to run again: nothing is duplicated. Ignores --config: it uses the embedded
    defaults with every path under --dir.
    """
    report = run_demo(folder)
    click.echo(
        f"m5syndicate demo in {report.folder} (clock fixed at {DEMO_NOW:%Y-%m-%d %H:%M} UTC)"
    )
    click.echo(f"  database   {report.database_url} (schema revision {report.revision})")
    for source in report.sources:
        click.echo(
            f"  collected  source {source.name}: {len(source.new)} new, "
            f"{len(source.updated)} updated, {source.unchanged} unchanged"
            + (f", FAILED: {source.error}" if source.failed else "")
        )
        for problem in source.item_errors:
            click.echo(f"             skipped {problem}")
    if report.feeds is not None:
        feeds = report.feeds
        click.echo(
            f"  feeds      {len(feeds.written)} written to {feeds.out_dir} "
            f"({len(feeds.unchanged)} unchanged); `serve` (below) answers them at "
            "/feeds.opml and /feeds/..."
        )
    added = sum(1 for outcome in report.subscribers.values() if outcome == "added")
    click.echo(f"  subscribers {added} added, {len(report.subscribers) - added} already there")
    if report.confirmation_mail:
        click.echo(
            f"  web        {DEMO_VISITOR} subscribed; confirmation mail {report.confirmation_mail}"
        )
    for edition in report.sent.editions:
        tally = edition.tally
        click.echo(
            f"  sent       edition {edition.edition.slug}: {tally.sent} sent, "
            f"{tally.skipped} skipped, {tally.failed} failed"
        )
    if not report.sent.editions:
        click.echo("  sent       nothing new: every due edition was already sent")
    messages = plural(len(list(report.outbox.glob("*.eml"))), "message")
    click.echo(f"  outbox     {report.outbox} ({messages})")
    config = report.config_path
    click.echo(
        "\nServe the pages (subscribe, confirm, preferences, unsubscribe):\n"
        f"  M5_SECRET_KEY=$(cat {report.secret_path}) m5syndicate --config {config} serve\n"
        "  then open http://127.0.0.1:8080/ (confirmation mails land in "
        f"{report.folder / 'outbox' / 'new'})\n"
        "Or run the whole service (web + scheduler: collect, feeds, digests on schedule):\n"
        f"  M5_SECRET_KEY=$(cat {report.secret_path}) m5syndicate --config {config} run"
    )
    click.echo(
        f"\nThen: open a .eml above in a mail client, `m5syndicate --config {config} status`, "
        f"or `m5syndicate --config {config} preview`."
    )

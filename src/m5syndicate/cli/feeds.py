"""`m5syndicate feeds build`."""

from __future__ import annotations

from pathlib import Path

import click

from m5syndicate.cli.base import Context, main, pass_context
from m5syndicate.cli.text import plural
from m5syndicate.feeds.publish import publish_feeds
from m5syndicate.store import migrate


@main.group()
def feeds() -> None:
    """Publish the RSS, Atom and JSON feeds."""


@feeds.command("build")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the feeds to [default: [feeds] out_dir].",
)
@pass_context
def feeds_build(obj: Context, out_dir: Path | None) -> None:
    """Write every feed (and feeds.opml) to disk atomically, for nginx or a CDN.

    Only files whose bytes changed are rewritten (their mtime is the newest item's
    update); when [feeds] websub_hub is set, the hub is pinged for each of them.
    """
    runtime = obj.runtime()
    migrate.require_current(runtime.engine)
    settings = runtime.settings
    report = publish_feeds(runtime.engine, settings.feeds, settings.site, out_dir)
    for name in report.written:
        click.echo(f"wrote     {report.out_dir / name}")
    click.echo(
        f"feeds in {report.out_dir}: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged"
    )
    if report.pinged:
        click.echo(
            f"websub: {settings.feeds.websub_hub} told of {plural(len(report.pinged), 'feed')}"
        )
    for error in report.ping_errors:
        click.secho(f"warning: {error}", fg="yellow", err=True)

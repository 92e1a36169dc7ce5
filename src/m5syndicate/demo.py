"""`m5syndicate demo`: the whole flow on bundled sample data, no network, no SMTP server.

It runs on a fixed clock (DEMO_NOW, just after the newest bundled article) so it shows
the same thing on any day, and everything it does is idempotent: a second run adds
nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.config import Settings, SourceSettings, load_settings
from m5syndicate.delivery.send import SendReport, send_due
from m5syndicate.feeds.publish import PublishReport, publish_feeds
from m5syndicate.models import Subscriber
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.subscriptions import Consent, Preferences, add_subscriber, subscribe

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
DEMO_SUBSCRIBERS = (
    Subscriber("ayse@example.org", "tr", "daily", status="confirmed", name="Ayşe"),
    Subscriber(
        "john@example.org",
        "en",
        "daily",
        status="confirmed",
        name="John",
        categories=["defence-news"],
    ),
    Subscriber(
        "mehmet@example.org",
        "tr",
        "instant",
        status="confirmed",
        name="Mehmet",
        categories=["one-cikan"],
    ),
    Subscriber("emma@example.org", "en", "weekly", "text", status="confirmed", name="Emma"),
    Subscriber("selin@example.org", "tr", "daily", status="pending", name="Selin"),
)


@dataclass
class DemoReport:
    folder: Path
    database_url: str
    revision: str | None
    sources: list[SourceReport]
    subscribers: dict[str, str] = field(default_factory=dict)  # email -> what happened
    feeds: PublishReport | None = None
    config_path: Path | None = None
    secret_path: Path | None = None
    confirmation_mail: Path | None = None  # the web visitor's, when one was sent this run
    sent: SendReport = field(default_factory=SendReport)
    outbox: Path = Path()


DEMO_VISITOR = "visitor@example.org"  # subscribes as if through the web form


def demo_secret(folder: Path) -> Path:
    """The demo's own M5_SECRET_KEY, generated once and kept in its folder."""
    path = folder.resolve() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


def write_demo_config(settings: Settings, folder: Path) -> Path:
    """A config file for `serve` and friends on the demo's database and outbox. Every path
    in it is inside ``folder``, so it outlives a reinstall of the package."""
    path = folder.resolve() / "m5syndicate.toml"
    (source,) = settings.sources
    path.write_text(
        "# Written by `m5syndicate demo`: the demo's database, outbox and feeds.\n"
        f'[database]\nurl = "{settings.database.url}"\n'
        f'[delivery]\noutbox_dir = "{settings.delivery.outbox_dir}"\n'
        f'[feeds]\nout_dir = "{settings.feeds.out_dir}"\n'
        # So that `run` on this config collects, publishes and sends on schedule.
        '[[sources]]\nname = "demo"\ntype = "directory"\nevery = "1h"\n'
        f'url = "{source.url}"\n',
        encoding="utf-8",
    )
    return path


def copy_articles(folder: Path) -> Path:
    """The bundled sample articles, copied into the demo's folder (and refreshed from the
    package on each run; articles added there by hand are kept)."""
    target = folder.resolve() / "articles"
    shutil.copytree(DEMO_DATA / "articles", target, dirs_exist_ok=True)
    return target


def demo_settings(folder: Path) -> Settings:
    """The embedded defaults, with every path under ``folder`` and the bundled source."""
    defaults = load_settings(path=None, env={})
    secret = demo_secret(folder).read_text(encoding="utf-8").strip()
    folder = folder.resolve()
    source = SourceSettings(
        name="demo", type="directory", url=str(copy_articles(folder)), every="1h"
    )
    return dataclasses.replace(
        defaults,
        database=dataclasses.replace(defaults.database, url=f"sqlite:///{folder / 'demo.db'}"),
        delivery=dataclasses.replace(
            defaults.delivery, transport="outbox", outbox_dir=str(folder / "outbox")
        ),
        feeds=dataclasses.replace(defaults.feeds, out_dir=str(folder / "feeds")),
        web=dataclasses.replace(defaults.web, secret_key=secret),
        sources=(source,),
        path="embedded demo defaults",
    )


async def collect(runtime: Runtime, now: datetime) -> list[SourceReport]:
    try:
        return await refresh_due(runtime.engine, runtime.fetcher, runtime.settings, now, force=True)
    finally:
        await runtime.aclose()


async def send_digests(runtime: Runtime) -> SendReport:
    async with runtime.sending() as parts:
        return await send_due(parts, runtime.clock())


def run_demo(folder: Path) -> DemoReport:
    settings = demo_settings(folder)
    runtime = Runtime(settings, clock=lambda: DEMO_NOW)
    try:
        _, revision = migrate.upgrade(runtime.engine)
        now = runtime.clock()
        sources = asyncio.run(collect(runtime, now))
        report = DemoReport(folder.resolve(), settings.database.url, revision, sources)
        report.feeds = publish_feeds(runtime.engine, settings.feeds, settings.site)
        for subscriber in DEMO_SUBSCRIBERS:
            _, outcome = add_subscriber(
                runtime.engine,
                dataclasses.replace(subscriber),
                now,
                "demo",
                settings.newsletter.consent_version,
            )
            report.subscribers[subscriber.email] = outcome
        report.confirmation_mail = demo_visitor(runtime, now)
        report.config_path = write_demo_config(settings, folder)
        report.secret_path = demo_secret(folder)
        report.sent = asyncio.run(send_digests(runtime))
        report.outbox = Path(settings.delivery.outbox_dir) / "new"
        return report
    finally:
        runtime.close()


def demo_visitor(runtime: Runtime, now: datetime) -> Path | None:
    """A visitor subscribes as through the web form: pending, with a confirmation mail in
    the outbox (only on the first run: one mail per address per 10 minutes)."""
    if roster.list_subscribers(runtime.engine, search=DEMO_VISITOR):
        return None  # a second run adds nothing
    consent = Consent("demo", runtime.settings.newsletter.consent_version)
    outcome = subscribe(runtime.engine, DEMO_VISITOR, Preferences("en"), now, consent)
    if outcome.confirmation is None:
        return None
    mail = runtime.notices.confirmation(outcome.confirmation, now)
    reply = asyncio.run(runtime.transport.send(mail))  # the outbox says "250 written NAME"
    return Path(runtime.settings.delivery.outbox_dir) / "new" / reply.split()[-1]

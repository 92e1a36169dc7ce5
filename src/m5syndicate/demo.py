"""`m5syndicate demo`: the whole flow on bundled sample data, no network, no SMTP server.

It runs on a fixed clock (DEMO_NOW, just after the newest bundled article) so it shows
the same thing on any day, and everything it does is idempotent: a second run adds
nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.config import Settings, SourceSettings, load_settings
from m5syndicate.models import Subscriber
from m5syndicate.newsletter.deliver import SendReport, send_due
from m5syndicate.newsletter.subscriptions import add_subscriber
from m5syndicate.runtime import Runtime
from m5syndicate.store import migrate

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
    sent: SendReport = field(default_factory=SendReport)
    outbox: Path = Path()


def demo_settings(folder: Path) -> Settings:
    """The embedded defaults, with every path under ``folder`` and the bundled source."""
    defaults = load_settings(path=None, env={})
    folder = folder.resolve()
    source = SourceSettings(
        name="demo", type="directory", url=str(DEMO_DATA / "articles"), every="1h"
    )
    return dataclasses.replace(
        defaults,
        database=dataclasses.replace(defaults.database, url=f"sqlite:///{folder / 'demo.db'}"),
        delivery=dataclasses.replace(
            defaults.delivery, transport="outbox", outbox_dir=str(folder / "outbox")
        ),
        web=dataclasses.replace(defaults.web, secret_key=demo_secret_key(folder)),
        feeds=dataclasses.replace(defaults.feeds, out_dir=str(folder / "feeds")),
        sources=(source,),
        path="embedded demo defaults",
    )


def demo_secret_key(folder: Path) -> str:
    """The demo's own M5_SECRET_KEY, made once and kept in its folder so links stay valid
    across runs."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


async def send_digests(runtime: Runtime) -> SendReport:
    transport = runtime.new_transport()
    try:
        return await send_due(runtime.send_parts(transport), runtime.clock())
    finally:
        await transport.close()


def run_demo(folder: Path) -> DemoReport:
    settings = demo_settings(folder)
    runtime = Runtime(settings, clock=lambda: DEMO_NOW)
    try:
        _, revision = migrate.upgrade(runtime.engine)
        now = runtime.clock()
        sources = refresh_due(runtime.engine, settings.sources, settings.collect, now)
        report = DemoReport(folder.resolve(), settings.database.url, revision, sources)
        for subscriber in DEMO_SUBSCRIBERS:
            _, outcome = add_subscriber(
                runtime.engine,
                dataclasses.replace(subscriber),
                now,
                "demo",
                settings.newsletter.consent_version,
            )
            report.subscribers[subscriber.email] = outcome
        report.sent = asyncio.run(send_digests(runtime))
        report.outbox = Path(settings.delivery.outbox_dir) / "new"
        return report
    finally:
        runtime.close()

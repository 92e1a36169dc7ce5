"""Shared setup for the digest tests: articles and subscribers stored through the
production store functions, settings built by the production loader."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.collect.clean import content_hash
from m5syndicate.config import Settings, SourceSettings, load_settings
from m5syndicate.delivery.send import SendOptions, SendParts, SendReport, send_due
from m5syndicate.digest.templates import email_environment
from m5syndicate.mail.transport import Transport
from m5syndicate.models import Article, Category, Subscriber
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.schema import deliveries, subscribers
from m5syndicate.subscribers.links import LinkSigner

# 2026-11-28 09:00 in Istanbul, after the 07:00 daily run.
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SECRET = "test-secret-key-for-links-0123456789"  # 32 bytes at least, as in production
BREAKING = Category("one-cikan", "Öne Çıkan")
NAVAL = Category("deniz-sistemleri", "Deniz Sistemleri")
DEFENCE_NEWS = Category("defence-news", "Defence News")


def make_article(
    slug: str,
    language: str = "tr",
    hours_ago: float = 2,
    categories: Sequence[Category] = (NAVAL,),
    title: str = "",
    offered: bool = True,
    body: str = "<p>Metin</p>",
    base: datetime = NOW,
) -> Article:
    when = base - timedelta(hours=hours_ago)
    title = title or f"Haber {slug}"
    return Article(
        guid=f"guid-{slug}",
        url=f"https://m5.test/{slug}/",
        title=title,
        content_html=body,
        summary=f"Özet {slug}: İstanbul'da ışık, ılık, Iğdır.",
        language=language,
        published_at=when,
        updated_at=when,
        categories=list(categories),
        image_url=f"https://m5.test/img/{slug}.jpg",
        image_alt=f"Görsel {slug}",
        content_hash=content_hash(title, body),
        offered=offered,
    )


def store_articles(engine: Engine, items: Sequence[Article], now: datetime = NOW) -> list[int]:
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name="wp", type="feed", url="x")], now)
        source_id = sources.get_source(conn, "wp").id or 0
        result = article_store.upsert_articles(conn, source_id, items, now)
    return result.new + result.updated


def add_subscribers(
    engine: Engine,
    count: int,
    *,
    prefix: str = "okur",
    language: str = "tr",
    cadence: str = "daily",
    fmt: str = "html",
    categories: Sequence[str] = (),
    status: str = "confirmed",
) -> list[str]:
    emails = [f"{prefix}{index}@m5.test" for index in range(count)]
    with engine.begin() as conn:
        for email in emails:
            subscriber = Subscriber(
                email,
                language,
                cadence,
                fmt,
                status=status,
                categories=list(categories),
            )
            subscriber_store.insert_subscriber(conn, subscriber, NOW, "test", "t")
    return emails


POSTAL_ADDRESS = "Örnek Sok. 1, 06000 Ankara, Türkiye"


def settings_for(database_url: str, tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Embedded defaults, this database, an outbox under tmp_path, and overrides."""
    base: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        "delivery": {"outbox_dir": str(tmp_path / "outbox"), "retry_seconds": 0.05},
        "newsletter": {"postal_address": POSTAL_ADDRESS},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    settings = load_settings(path=None, env={}, overrides=base)
    return settings.with_changes(web=settings.web.with_changes(secret_key=SECRET))


def parts_for(engine: Engine, settings: Settings, transport: Transport) -> SendParts:
    return SendParts(
        engine=engine,
        transport=transport,
        env=email_environment(settings.newsletter.templates_dir),
        settings=settings,
        links=LinkSigner(settings.site.public_url, SECRET),
    )


def run_send(
    engine: Engine,
    settings: Settings,
    transport: Transport,
    now: datetime = NOW,
    **options: Any,
) -> SendReport:
    async def go() -> SendReport:
        try:
            parts = parts_for(engine, settings, transport)
            return await send_due(parts, now, SendOptions(**options))
        finally:
            await transport.close()

    return asyncio.run(go())


def ledger_by_email(engine: Engine) -> dict[str, tuple[str, int]]:
    """address -> (delivery state, attempts)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscribers.c.email, deliveries.c.state, deliveries.c.attempts).join(
                subscribers, subscribers.c.id == deliveries.c.subscriber_id
            )
        )
        return {row.email: (row.state, row.attempts) for row in rows}

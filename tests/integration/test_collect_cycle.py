"""After a collection that brought something, the feeds are rebuilt; otherwise not."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import Settings
from m5syndicate.flows import CycleReport, collect_cycle
from m5syndicate.runtime import Runtime
from m5syndicate.store.articles import latest_articles
from tests.upstream import Upstream, service_settings, wp_post

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def settings(upstream: Upstream, engine: Engine, out: Path) -> Settings:
    return service_settings(upstream, engine, out)


def cycle(runtime: Runtime, now: datetime) -> CycleReport:
    async def run() -> CycleReport:
        try:
            return await collect_cycle(runtime.collect_parts(), now)
        finally:
            await runtime.aclose()

    return asyncio.run(run())


def test_feeds_follow_what_collect_stores(
    engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.posts = [
        wp_post(
            1, "Yeni fırkateyn denizde", "<p>Deniz kabul testleri.</p>", NOW - timedelta(hours=1)
        )
    ]
    runtime = Runtime(settings(upstream, engine, tmp_path / "feeds"))
    try:
        first = cycle(runtime, NOW)
        assert first.feeds is not None and "defence-news.atom" in first.feeds.written
        atom = (tmp_path / "feeds" / "defence-news.atom").read_text(encoding="utf-8")
        assert "Yeni fırkateyn denizde" in atom

        quiet = cycle(runtime, NOW + timedelta(minutes=10))
        assert quiet.feeds is None and not quiet.changed_article_ids

        upstream.posts = [
            wp_post(
                1,
                "Yeni fırkateyn denizde",
                "<p>Testler tamamlandı.</p>",
                NOW - timedelta(hours=1),
                modified=NOW + timedelta(minutes=15),
            )
        ]
        edited = cycle(runtime, NOW + timedelta(minutes=20))
        assert edited.feeds is not None and "defence-news.atom" in edited.feeds.written
        atom = (tmp_path / "feeds" / "defence-news.atom").read_text(encoding="utf-8")
        assert "Testler tamamlandı." in atom and "Deniz kabul testleri." not in atom
    finally:
        runtime.close()


def test_an_article_that_says_no_language_gets_the_sites(
    engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.posts = [wp_post(2, "X-200", "<p>2026.</p>", NOW - timedelta(hours=1))]
    base = settings(upstream, engine, tmp_path / "feeds")
    runtime = Runtime(dataclasses.replace(base, site=dataclasses.replace(base.site, language="en")))
    try:
        (report,) = cycle(runtime, NOW).sources
        assert len(report.new) == 1
        with engine.connect() as conn:
            (article,) = latest_articles(conn, 10)
        assert article.language == "en"  # the source set none and the text is no clue
    finally:
        runtime.close()

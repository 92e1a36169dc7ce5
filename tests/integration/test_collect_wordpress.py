"""A WordPress source against a real HTTP server on loopback, stored on both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from m5syndicate import __version__
from m5syndicate.collect.fetcher import Fetcher, user_agent
from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.config import Settings, SourceSettings
from m5syndicate.models import Article, SourceState
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources as source_store
from tests.upstream import POSTS_PATH, Upstream, redirect, settings_for, status, wp_post

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
PUBLIC_URL = "https://news.example.org"


def collect(engine: Engine, settings: Settings, now: datetime, **how: Any) -> list[SourceReport]:
    async def run() -> list[SourceReport]:
        fetcher = Fetcher(settings.collect, user_agent(PUBLIC_URL))
        try:
            return await refresh_due(engine, fetcher, settings, now, **how)
        finally:
            await fetcher.aclose()

    return asyncio.run(run())


def hourly_posts(count: int) -> list[dict[str, Any]]:
    """``count`` posts, one an hour, the newest an hour before NOW."""
    return [
        wp_post(
            i,
            f"Haber {i}",
            f"<p>Haber {i} metni, yeni bir gelişme.</p>",
            NOW - timedelta(hours=count - i + 1),
        )
        for i in range(1, count + 1)
    ]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def wordpress(upstream: Upstream, name: str = "m5", **extra: Any) -> SourceSettings:
    fields = {"every": "10m", **extra}
    return SourceSettings(
        name=name, type="wordpress", url=f"{upstream.base_url}/wp-json/wp/v2/", **fields
    )


def stored(engine: Engine) -> list[Article]:
    with engine.connect() as conn:
        return article_store.latest_articles(conn, 10_000)


def source_row(engine: Engine, name: str = "m5") -> SourceState:
    with engine.connect() as conn:
        return source_store.get_source(conn, name)


def test_backfill_walks_every_page_and_later_polls_are_conditional(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = hourly_posts(250)
    settings = settings_for(wordpress(upstream))

    (first,) = collect(engine, settings, NOW)
    assert (len(first.new), first.failed) == (250, False)
    pages = upstream.requests_to(POSTS_PATH)
    assert len(pages) == 3  # keyset pages of 100, 100 and 50: no page numbers
    assert all(r.query["orderby"] == "modified" and r.query["order"] == "asc" for r in pages)
    assert all(r.query["per_page"] == "100" and "_embed" in r.query for r in pages)
    assert all("page" not in r.query for r in pages)
    assert "modified_after" not in pages[0].query
    # Page 2 starts at the newest second of page 1 (post 100, 02:00 wall time minus the
    # one second that makes WordPress's exclusive `after` include it), without post 100.
    assert (pages[1].query["modified_after"], pages[1].query["exclude"]) == (
        "2026-11-22T01:59:59",
        "100",
    )
    assert pages[0].headers["user-agent"] == f"m5syndicate/{__version__} (+{PUBLIC_URL})"

    articles = stored(engine)
    assert len(articles) == 250 and len({a.guid for a in articles}) == 250
    # First collection: only the last 7 days (168 posts) may go into digests.
    assert sum(a.offered for a in articles) == 168
    cursor = json.loads(source_row(engine).cursor)
    # The site's wall time (Istanbul) of the newest post, modified and published.
    assert cursor == {
        "date": "2026-11-28T08:00:00",
        "modified": "2026-11-28T08:00:00",
        "reconciled": NOW.isoformat(),
    }

    upstream.log.clear()
    (second,) = collect(engine, settings, NOW + timedelta(minutes=10))
    poll, dated = upstream.requests_to(POSTS_PATH)
    # 10 minutes (the overlap) before the newest post, in the site's wall time.
    assert poll.query["modified_after"] == "2026-11-28T07:49:59"
    assert (dated.query["orderby"], dated.query["after"]) == ("date", "2026-11-28T07:49:59")
    assert (second.new, second.updated, second.unchanged) == ([], [], 1)  # read once

    upstream.log.clear()
    (third,) = collect(engine, settings, NOW + timedelta(minutes=20))
    assert third.not_modified and not third.failed
    modified_walk, date_walk = upstream.log
    assert modified_walk.conditional and modified_walk.status == 304
    assert date_walk.query["orderby"] == "date" and not date_walk.conditional
    assert len(stored(engine)) == 250


def test_overlap_rereads_recent_posts_and_edits_update_in_place(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = hourly_posts(3)
    settings = settings_for(wordpress(upstream))
    collect(engine, settings, NOW)

    edited = upstream.posts[0]
    edited["content"]["rendered"] = "<p>Düzeltilmiş metin.</p>"
    edited["modified_gmt"] = (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    upstream.posts.append(wp_post(4, "Yeni haber", "<p>Yeni</p>", NOW + timedelta(minutes=6)))
    (report,) = collect(engine, settings, NOW + timedelta(minutes=10))
    assert (len(report.new), len(report.updated), report.unchanged) == (1, 1, 1)  # 3: overlap

    by_guid = {a.guid: a for a in stored(engine)}
    assert len(by_guid) == 4
    changed = by_guid["https://www.m5dergi.com/?p=1"]
    assert changed.content_html == "<p>Düzeltilmiş metin.</p>"
    assert changed.updated_at == NOW + timedelta(minutes=5)
    assert by_guid["https://www.m5dergi.com/?p=4"].offered  # not a first run: offered


def test_a_full_last_page_is_followed_by_one_empty_answer(
    engine: Engine, upstream: Upstream
) -> None:
    # Exactly one full page and no paging headers: the reader must ask once more from
    # the newest second read, and WordPress answers an empty list.
    upstream.posts = hourly_posts(100)
    upstream.paging_headers = False
    (report,) = collect(engine, settings_for(wordpress(upstream)), NOW)
    assert (len(report.new), report.failed) == (100, False)
    asked = upstream.requests_to(POSTS_PATH)
    assert [r.status for r in asked] == [200, 200]
    assert asked[1].query["exclude"] == "100"
    assert source_row(engine).error_count == 0


def test_permanent_redirect_moves_the_stored_url_and_config_sync_keeps_it(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = hourly_posts(2)
    old = SourceSettings(
        name="m5", type="wordpress", url=f"{upstream.base_url}/old/wp-json/wp/v2/", every="10m"
    )
    upstream.fail("/old/wp-json/wp/v2/posts", redirect(f"{upstream.base_url}{POSTS_PATH}", 301))
    settings = settings_for(old)
    (report,) = collect(engine, settings, NOW)
    assert len(report.new) == 2
    assert source_row(engine).url == f"{upstream.base_url}/wp-json/wp/v2/"

    upstream.log.clear()
    collect(engine, settings, NOW + timedelta(hours=1))
    assert [r.path for r in upstream.log] == [POSTS_PATH] * 2  # straight to the new address
    assert source_row(engine).url == f"{upstream.base_url}/wp-json/wp/v2/"


def test_temporary_redirect_keeps_the_stored_url(engine: Engine, upstream: Upstream) -> None:
    upstream.posts = hourly_posts(1)
    source = SourceSettings(
        name="m5", type="wordpress", url=f"{upstream.base_url}/tmp/wp-json/wp/v2/", every="10m"
    )
    upstream.fail("/tmp/wp-json/wp/v2/posts", redirect(f"{upstream.base_url}{POSTS_PATH}", 302))
    (report,) = collect(engine, settings_for(source), NOW)
    assert len(report.new) == 1
    assert source_row(engine).url == source.url


def test_only_due_sources_are_collected_unless_named_or_forced(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = hourly_posts(1)
    settings = settings_for(wordpress(upstream, "a"), wordpress(upstream, "b", every="1h"))
    assert [r.collected for r in collect(engine, settings, NOW)] == [True, True]

    upstream.log.clear()
    later = NOW + timedelta(minutes=30)
    reports = collect(engine, settings, later)
    assert [(r.name, r.collected) for r in reports] == [("a", True), ("b", False)]
    assert reports[1].not_due_until == NOW + timedelta(hours=1)
    assert len(upstream.log) == 2  # one source: its modified walk and its date walk

    upstream.log.clear()
    (named,) = collect(engine, settings, later, only="b")
    assert named.name == "b" and named.collected and len(upstream.log) == 2
    forced = collect(engine, settings, later + timedelta(seconds=1), force=True)
    assert all(r.collected for r in forced) and len(upstream.log) == 6


def test_category_filter_keeps_only_the_sources_categories(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = [
        wp_post(1, "Kara", "<p>k</p>", NOW - timedelta(hours=1), categories=(("kara", "Kara"),)),
        wp_post(2, "News", "<p>n</p>", NOW - timedelta(hours=2)),
    ]
    source = wordpress(upstream, categories=["defence-news"])
    (report,) = collect(engine, settings_for(source), NOW)
    assert (len(report.new), report.ignored) == (1, 1)
    assert [a.title for a in stored(engine)] == ["News"]


def test_a_bad_post_is_skipped_and_the_others_stored(engine: Engine, upstream: Upstream) -> None:
    upstream.posts = hourly_posts(3)
    del upstream.posts[1]["date_gmt"]
    (report,) = collect(engine, settings_for(wordpress(upstream)), NOW)
    assert len(report.new) == 2 and not report.failed
    assert len(report.item_errors) == 1 and "post 2: has no date_gmt" in report.item_errors[0]


def test_one_failing_source_does_not_stop_the_others(engine: Engine, upstream: Upstream) -> None:
    upstream.posts = hourly_posts(2)
    broken = SourceSettings(
        name="broken", type="feed", url=f"{upstream.base_url}/missing.xml", every="10m"
    )
    settings = settings_for(broken, wordpress(upstream))
    upstream.fail("/missing.xml", status(500))
    reports = collect(engine, settings, NOW)
    assert [(r.name, r.failed) for r in reports] == [("broken", True), ("m5", False)]
    assert "HTTP 500 Internal Server Error" in reports[0].error
    assert len(reports[1].new) == 2

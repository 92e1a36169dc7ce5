"""One bad item is one bad item, errors lead with their reason, and the upstream's list of
what it publishes withdraws what is gone: real processes and a real upstream on loopback,
real databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from m5syndicate.collect.reading import Page
from m5syndicate.collect.refresh import SourceReport, store_page
from m5syndicate.store import sources as source_store
from tests.integration.test_cli import m5
from tests.integration.test_collect_wordpress import (
    NOW,
    collect,
    hourly_posts,
    source_row,
    stored,
    wordpress,
)
from tests.upstream import POSTS_PATH, Fault, Upstream, settings_for, wp_post

# Longer than the 100 characters `sources` used to keep, URL included.
LONG_PATH = "rubrik/" + "savunma-sanayii-ve-teknoloji/" * 5 + "gone.xml"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.posts = hourly_posts(3)
    del server.posts[1]["date_gmt"]  # post 2 cannot be read: skipped, the others stored
    with server.running():
        yield server


def write_config(tmp_path: Path, upstream: Upstream) -> Path:
    config = tmp_path / "m5.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "m5.db"}"

[[sources]]
name = "m5dergi"
type = "wordpress"
url = "{upstream.base_url}/wp-json/wp/v2/"
every = "10m"

[[sources]]
name = "gone"
type = "feed"
url = "{upstream.base_url}/{LONG_PATH}"
""",
        encoding="utf-8",
    )
    return config


def test_sources_and_status_show_the_reason_first_in_full_and_the_skipped_items(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = str(write_config(tmp_path, upstream))
    assert m5("--config", config, "db", "upgrade").returncode == 0
    assert m5("--config", config, "collect").returncode == 1  # "gone" failed
    gone_url = f"{upstream.base_url}/{LONG_PATH}"
    whole = f"collect: HTTP 404 Not Found from {gone_url}; check the source's url"

    table = m5("--config", config, "sources")
    assert table.returncode == 0, table.stderr
    assert whole in table.stdout  # never cut, however long the URL
    assert "m5dergi: skipped" in table.stdout and "post 2: has no date_gmt" in table.stdout

    machine = m5("--config", config, "sources", "--json")
    assert machine.returncode == 0, machine.stderr
    health = {entry["name"]: entry for entry in json.loads(machine.stdout)}
    assert health["gone"]["last_error"] == whole and health["gone"]["error_count"] == 1
    assert health["gone"]["last_success_at"] is None
    assert health["m5dergi"]["error_count"] == 0 and health["m5dergi"]["last_error"] == ""
    (skipped,) = health["m5dergi"]["skipped_items"]
    assert "post 2: has no date_gmt" in skipped

    status = m5("--config", config, "status")
    assert status.returncode == 0, status.stderr
    assert whole in status.stdout
    assert "m5dergi: " in status.stdout and "post 2: has no date_gmt" in status.stdout


def test_one_bad_item_is_recorded_on_the_row_and_the_source_is_not_failed(
    engine: Engine, upstream: Upstream
) -> None:
    (report,) = collect(engine, settings_for(wordpress(upstream)), NOW)
    assert len(report.new) == 2 and not report.failed
    row = source_row(engine)
    assert (row.error_count, row.last_error, row.last_success_at) == (0, "", NOW)
    with engine.connect() as conn:
        (recorded,) = source_store.item_errors(conn)["m5"]
    assert recorded == " ".join(report.item_errors[0].split())
    fixed = wp_post(2, "Haber 2", "<p>Düzeltildi.</p>", NOW - timedelta(hours=2), NOW)
    upstream.posts[1] = fixed  # fixed upstream: read on the next run, nothing skipped
    (again,) = collect(engine, settings_for(wordpress(upstream)), NOW + timedelta(hours=1))
    assert not again.item_errors
    with engine.connect() as conn:
        assert source_store.item_errors(conn)["m5"] == []


def drip(chunks: int, pause: float) -> Fault:
    """Answers at once, then sends one byte per ``pause``: no single read times out."""

    async def answer(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(chunks):
                yield b" "
                await asyncio.sleep(pause)
            yield b"[]"

        return StreamingResponse(body(), media_type="application/json")

    return answer


def test_a_slow_drip_names_the_whole_exchange_deadline(engine: Engine, upstream: Upstream) -> None:
    upstream.fail(POSTS_PATH, drip(12, 0.15))
    settings = settings_for(wordpress(upstream), timeout_seconds=0.4)
    (report,) = collect(engine, settings, NOW)
    assert report.failed
    assert report.error.startswith("collect: the whole exchange took more than 1.2s")
    assert "no answer within" not in report.error


def test_the_upstream_list_withdraws_what_is_gone_and_feeds_rebuild(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.posts = hourly_posts(3)
    source = wordpress(upstream)
    settings = settings_for(source)
    (first,) = collect(engine, settings, NOW)
    assert len(first.new) == 3
    with engine.connect() as conn:
        state = source_store.get_source(conn, "m5")
    listed = frozenset(a.guid for a in stored(engine)[:2])  # the oldest one is gone
    gone = stored(engine)[2]
    report = SourceReport("m5")
    page = Page(present_guids=listed)
    store_page(engine, source, state, page, report, False, NOW, settings.collect)
    assert report.updated == [gone.id]  # an update: what reacts to updates sees it
    assert {a.guid for a in stored(engine)} == listed
    back = SourceReport("m5")
    returned = Page(present_guids=listed | {gone.guid})
    store_page(engine, source, state, returned, back, False, NOW, settings.collect)
    assert back.updated == [gone.id] and len(stored(engine)) == 3

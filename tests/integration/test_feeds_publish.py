"""`publish_feeds` on each real database: atomic files, only changed bytes rewritten,
the WebSub hub pinged for those (a real hub on loopback); `feeds build`; the demo."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from m5syndicate.feeds.catalog import feed_catalog
from m5syndicate.feeds.publish import build_feed, publish_feeds
from tests.feeds_samples import NOW, sample_articles, settings_for, store_articles
from tests.integration.test_cli import m5
from tests.servers import UvicornThread

ALL_FILES = {
    f"{name}.{fmt}"
    for name in ("all-tr", "all-en", "defence-news", "one-cikan")
    for fmt in ("rss", "atom", "json")
}


class Hub:
    """A WebSub hub that records publish pings and answers ``status``."""

    def __init__(self) -> None:
        self.pings: list[dict[str, str]] = []
        self.status = 204
        self.app = Starlette(routes=[Route("/", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        self.pings.append(dict(await request.form()))  # type: ignore[arg-type]
        return Response(status_code=self.status)


@pytest.fixture
def hub() -> Iterator[tuple[Hub, str]]:
    recorder = Hub()
    with UvicornThread(recorder.app) as server:
        yield recorder, server.url + "/"


def test_publish_writes_every_feed_from_the_database(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, sample_articles())
    settings = settings_for(engine)
    tmp_path = tmp_path / "feeds"  # created by publish_feeds
    report = publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    assert set(report.written) == ALL_FILES and report.unchanged == []
    assert {p.name for p in tmp_path.iterdir()} == ALL_FILES | {"feeds.opml"}  # no temp files
    spec = feed_catalog(settings.feeds, settings.site)[0]
    with engine.connect() as conn:
        expected = build_feed(conn, spec, settings.feeds, settings.site)
    assert (tmp_path / "all-tr.atom").read_bytes() == expected["atom"].body
    assert b"Yeni korvet" in expected["atom"].body and b"Frigate" not in expected["atom"].body
    newest = sample_articles()[0].updated_at.timestamp()
    assert os.stat(tmp_path / "all-tr.rss").st_mtime == newest  # Last-Modified for nginx


def test_only_changed_feeds_are_rewritten(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, sample_articles())
    settings = settings_for(engine)
    publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    inode = os.stat(tmp_path / "all-en.rss").st_ino
    again = publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    assert again.written == [] and set(again.unchanged) == ALL_FILES
    english = sample_articles()[2]
    english.content_html += "<p>Update: a second firing is planned.</p>"
    english.updated_at = NOW
    store_articles(engine, [english])  # by the source that stored it: the row's owner
    changed = publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    assert set(changed.written) == {
        f"{n}.{f}" for n in ("all-en", "defence-news") for f in ("rss", "atom", "json")
    }
    assert b"second firing" in (tmp_path / "defence-news.json").read_bytes()
    assert os.stat(tmp_path / "all-en.rss").st_ino != inode  # replaced by rename, not edited


def test_hub_is_advertised_and_pinged_for_changed_feeds(
    engine: Engine, tmp_path: Path, hub: tuple[Hub, str]
) -> None:
    recorder, hub_url = hub
    store_articles(engine, sample_articles())
    settings = settings_for(engine, websub_hub=hub_url)
    report = publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    assert report.ping_errors == []
    assert {ping["hub.mode"] for ping in recorder.pings} == {"publish"}
    assert {ping["hub.url"] for ping in recorder.pings} == {
        f"https://feeds.example.org/feeds/{name}" for name in ALL_FILES
    }
    assert f'<link href="{hub_url}" rel="hub"/>'.encode() in (tmp_path / "all-tr.atom").read_bytes()
    publish_feeds(engine, settings.feeds, settings.site, tmp_path)
    assert len(recorder.pings) == len(ALL_FILES)  # nothing changed: no new ping


def test_a_refusing_hub_is_reported_and_the_files_are_still_written(
    sqlite_engine: Engine, tmp_path: Path, hub: tuple[Hub, str]
) -> None:
    recorder, hub_url = hub
    recorder.status = 500
    store_articles(sqlite_engine, sample_articles())
    settings = settings_for(sqlite_engine, websub_hub=hub_url)
    report = publish_feeds(sqlite_engine, settings.feeds, settings.site, tmp_path)
    assert set(report.written) == ALL_FILES and report.pinged == []
    assert len(report.ping_errors) == len(ALL_FILES)
    assert "answered 500" in report.ping_errors[0]
    gone = dataclasses.replace(settings.feeds, websub_hub="http://127.0.0.1:9/")
    unreachable = publish_feeds(sqlite_engine, gone, settings.site, tmp_path)
    assert set(unreachable.written) == ALL_FILES  # they advertise the new hub
    assert "unreachable" in unreachable.ping_errors[0]


def test_feeds_build_command(sqlite_engine: Engine, tmp_path: Path) -> None:
    store_articles(sqlite_engine, sample_articles())
    env = {"M5_DATABASE__URL": str(sqlite_engine.url)}
    first = m5("feeds", "build", "--out", str(tmp_path / "out"), env=env)
    assert first.returncode == 0, first.stderr
    assert "12 written, 0 unchanged" in first.stdout
    assert (tmp_path / "out" / "one-cikan.atom").exists()
    second = m5("feeds", "build", "--out", str(tmp_path / "out"), env=env)
    assert "0 written, 12 unchanged" in second.stdout


def test_feeds_build_into_an_unwritable_place_is_one_clear_line(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"M5_DATABASE__URL": str(sqlite_engine.url)}
    result = m5("feeds", "build", "--out", str(blocker / "feeds"), env=env)
    assert result.returncode == 1
    assert "feeds: cannot create" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_writes_the_feeds_and_says_where(tmp_path: Path) -> None:
    result = m5("demo", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    feeds = tmp_path / "demo" / "feeds"
    assert f"feeds      12 written to {feeds}" in result.stdout
    assert b"<entry" in (feeds / "all-en.atom").read_bytes()
    again = m5("demo", "--dir", str(tmp_path / "demo"))
    assert "feeds      0 written" in again.stdout

"""/metrics and the WordPress webhook, over real HTTP, against a loopback WordPress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import Settings
from m5syndicate.runtime import Runtime
from m5syndicate.store import articles as article_store
from m5syndicate.web.app import create_app
from tests.servers import UvicornThread
from tests.upstream import Upstream, service_settings, wp_post

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SECRET = "hook-secret-for-tests"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def settings(upstream: Upstream, engine: Engine, out: Path) -> Settings:
    return service_settings(upstream, engine, out, webhook_secret=SECRET)


def titles(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [a.title for a in article_store.latest_articles(conn, 100)]


def wait_for(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_hook_ping_collects_the_new_post_in_seconds(
    engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    runtime = Runtime(settings(upstream, engine, tmp_path / "feeds"), clock=lambda: NOW)
    upstream.posts = [
        wp_post(7, "Yeni İHA teslimatı", "<p>Teslimat yapıldı.</p>", NOW - timedelta(minutes=5))
    ]
    with UvicornThread(create_app(runtime)) as server:
        hook = f"{server.url}/api/hooks/wordpress"
        assert httpx.post(hook, json={"post_id": 7}).status_code == 401
        assert httpx.post(hook, headers={"X-M5-Webhook-Secret": "wrong"}).status_code == 401
        assert httpx.post(f"{hook}?secret={SECRET}&source=nope").status_code == 404
        answer = httpx.post(hook, headers={"X-M5-Webhook-Secret": SECRET}, json={"post_id": 7})
        assert answer.status_code == 202 and answer.json() == {"collecting": ["m5"]}
        assert wait_for(lambda: titles(engine) == ["Yeni İHA teslimatı"])
        feed = tmp_path / "feeds" / "defence-news.rss"
        assert wait_for(lambda: feed.exists() and "Yeni İHA teslimatı" in feed.read_text())
        served = httpx.get(f"{server.url}/feeds/defence-news.rss")
        assert "Yeni İHA teslimatı" in served.text
    runtime.close()


def test_metrics_expose_store_figures_and_counters(
    engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    runtime = Runtime(settings(upstream, engine, tmp_path / "feeds"), clock=lambda: NOW)
    runtime.metrics.fetch_errors.labels(source="m5").inc()
    with UvicornThread(create_app(runtime)) as server:
        first = httpx.get(f"{server.url}/feeds/all-tr.rss")
        again = httpx.get(
            f"{server.url}/feeds/all-tr.rss", headers={"If-None-Match": first.headers["etag"]}
        )
        assert (first.status_code, again.status_code) == (200, 304)
        answer = httpx.get(f"{server.url}/metrics")
    runtime.close()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'm5_deliveries{state="pending"} 0.0' in answer.text
    assert 'm5_fetch_errors_total{source="m5"} 1.0' in answer.text
    assert 'm5_feed_requests_total{feed="all-tr.rss",status="200"} 1.0' in answer.text
    assert 'm5_feed_requests_total{feed="all-tr.rss",status="304"} 1.0' in answer.text

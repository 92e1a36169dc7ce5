"""Every upstream fault ends as data on the source's row: the reason, the error count and
the next check (backoff, or the server's Retry-After). Real server, both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import formatdate

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import SourceSettings
from tests.integration.test_collect_wordpress import (
    NOW,
    collect,
    hourly_posts,
    source_row,
    stored,
    wordpress,
)
from tests.servers import free_port
from tests.upstream import (
    POSTS_PATH,
    Fault,
    Upstream,
    oversized,
    raw,
    redirect,
    settings_for,
    slow,
    status,
)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.posts = hourly_posts(3)
    with server.running():
        yield server


FAULTS: dict[str, tuple[Fault, str]] = {
    # The reason first, then the URL, then what to do.
    "500": (status(500), "collect: HTTP 500 Internal Server Error from http"),
    "404": (status(404), "collect: HTTP 404 Not Found from http"),
    "slow": (slow(1.5), "collect: no answer within 0.3s (timeout_seconds) from http"),
    "oversized": (oversized(1), "collect: the body is larger than 1 MiB from http"),
    "gzip bomb": (oversized(1, compressed=True), "the body is larger than 1 MiB"),
    "invalid JSON": (raw(b'[{"id": 1,'), "is not JSON"),
    "not a list": (raw(b'{"code": "rest_no_route"}'), "is not a list of posts"),
    "html instead": (raw(b"<html>maintenance</html>", "text/html"), "is not JSON"),
}


@pytest.mark.parametrize("case", FAULTS, ids=list(FAULTS))
def test_fault_is_recorded_with_its_reason_and_backoff(
    engine: Engine, upstream: Upstream, case: str
) -> None:
    fault, reason = FAULTS[case]
    upstream.fail(POSTS_PATH, fault)
    settings = settings_for(wordpress(upstream), timeout_seconds=0.3, max_body_mb=1)
    (report,) = collect(engine, settings, NOW)
    assert report.failed and reason in report.error
    row = source_row(engine)
    assert (row.error_count, row.last_error, row.last_error_at) == (1, report.error, NOW)
    assert row.next_check_at == NOW + timedelta(minutes=20)  # twice the 10m interval
    assert row.last_success_at is None and stored(engine) == []


def test_backoff_grows_then_a_success_clears_the_errors(engine: Engine, upstream: Upstream) -> None:
    settings = settings_for(wordpress(upstream), max_backoff_minutes=60)
    upstream.fail(POSTS_PATH, status(500), status(502), status(500))
    expected = [20, 40, 60]  # 2x, 4x the interval, then the cap
    moment = NOW
    for count, minutes in enumerate(expected, start=1):
        (report,) = collect(engine, settings, moment)
        row = source_row(engine)
        assert (row.error_count, row.next_check_at) == (count, moment + timedelta(minutes=minutes))
        moment = row.next_check_at
    (report,) = collect(engine, settings, moment)
    row = source_row(engine)
    assert not report.failed and len(report.new) == 3
    assert (row.error_count, row.last_error, row.last_success_at) == (0, "", moment)
    assert row.next_check_at == moment + timedelta(minutes=10)


def test_429_retry_after_seconds_is_honoured(engine: Engine, upstream: Upstream) -> None:
    upstream.fail(POSTS_PATH, status(429, {"retry-after": "7200"}))
    (report,) = collect(engine, settings_for(wordpress(upstream)), NOW)
    assert "HTTP 429 Too Many Requests" in report.error and "retry after 7200s" in report.error
    assert source_row(engine).next_check_at == NOW + timedelta(hours=2)


def test_503_retry_after_http_date_is_honoured(engine: Engine, upstream: Upstream) -> None:
    in_three_hours = formatdate(time.time() + 3 * 3600, usegmt=True)
    upstream.fail(POSTS_PATH, status(503, {"retry-after": in_three_hours}))
    (report,) = collect(engine, settings_for(wordpress(upstream)), NOW)
    assert "HTTP 503 Service Unavailable" in report.error
    next_check = source_row(engine).next_check_at
    assert next_check is not None
    assert abs(next_check - (NOW + timedelta(hours=3))) < timedelta(seconds=10)


def test_a_short_retry_after_does_not_undercut_the_backoff(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.fail(POSTS_PATH, status(429, {"retry-after": "5"}))
    collect(engine, settings_for(wordpress(upstream)), NOW)
    assert source_row(engine).next_check_at == NOW + timedelta(minutes=20)


def test_redirect_loop_is_bounded(engine: Engine, upstream: Upstream) -> None:
    loop = f"{upstream.base_url}/loop/wp-json/wp/v2"
    posts = "/loop/wp-json/wp/v2/posts"
    upstream.fail(posts, *[redirect(loop + "/posts", 302) for _ in range(10)])
    source = SourceSettings(name="m5", type="wordpress", url=loop + "/", every="10m")
    (report,) = collect(engine, settings_for(source, max_redirects=3), NOW)
    assert "more than 3 redirects" in report.error
    assert len(upstream.requests_to(posts)) == 4


def test_unreachable_host_is_a_clear_error(engine: Engine) -> None:
    source = SourceSettings(
        name="m5", type="wordpress", url=f"http://127.0.0.1:{free_port()}/wp-json/wp/v2/"
    )
    (report,) = collect(engine, settings_for(source), NOW)
    assert "cannot connect" in report.error and "check the source's url" in report.error
    assert source_row(engine).error_count == 1

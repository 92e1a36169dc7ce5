"""The web server under hostile clients, over real sockets: forged X-Forwarded-For,
oversized and endless bodies, slow headers, control characters, forged Host headers and
forged CSRF cookies; and webhook floods against a counting WordPress."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from m5syndicate.runtime import Runtime
from m5syndicate.store import articles as article_store
from m5syndicate.web import csrf
from m5syndicate.web.app import create_app
from m5syndicate.web.guards import BodyLimit
from m5syndicate.web.ops import Coalesced
from m5syndicate.web.serving import server_options
from tests.servers import UvicornThread
from tests.upstream import POSTS_PATH, Upstream, service_settings, wp_post
from tests.web_support import SECRET, Site, running_site

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
HOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Site]:
    with running_site(sqlite_engine, tmp_path, header_timeout=1.0) as running:
        yield running


def limited(site: Site, forwarded_for: list[str]) -> int:
    """How many of these subscribe posts (one per X-Forwarded-For) got 429."""
    with httpx.Client() as client:
        answers = [
            client.post(f"{site.url}/subscribe", headers={"X-Forwarded-For": address}, data={})
            for address in forwarded_for
        ]
    assert all(answer.status_code in (400, 403, 429) for answer in answers)
    return sum(answer.status_code == 429 for answer in answers)


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    addresses = [f"203.0.113.{n}" for n in range(10)]
    with running_site(sqlite_engine, tmp_path, M5_WEB__SUBSCRIBE_LIMIT="3") as running:
        assert limited(running, addresses) == 7


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    env = {"M5_WEB__SUBSCRIBE_LIMIT": "3", "M5_WEB__FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with running_site(sqlite_engine, tmp_path, **env) as running:
        assert limited(running, [f"203.0.113.{n}" for n in range(10)]) == 0
        assert limited(running, ["198.51.100.7"] * 10) == 7
        # A forged entry in front of what the proxy appended changes nothing.
        chain = [f"10.9.9.{n}, 198.51.100.8" for n in range(10)]
        assert limited(running, chain) == 7


def test_ipv6_clients_are_counted_by_their_64_network(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    env = {"M5_WEB__SUBSCRIBE_LIMIT": "3", "M5_WEB__FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with running_site(sqlite_engine, tmp_path, **env) as running:
        assert limited(running, [f"2001:db8:1:2::{n:x}" for n in range(1, 11)]) == 7


def test_a_body_over_the_limit_is_refused_before_it_is_read(site: Site) -> None:
    answer = httpx.post(f"{site.url}/subscribe", content=b"x" * (2 * 1024 * 1024))
    assert answer.status_code == 413
    assert "at most 1048576 bytes" in answer.text


def test_a_form_streamed_without_length_is_a_clean_400(site: Site) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"email=a%40b.com&consent=yes"

    answer = httpx.post(
        f"{site.url}/subscribe",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400


async def echo_length(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


async def swallow_errors(request: Request) -> Response:
    try:
        await request.body()
    except Exception:  # an app that answers whatever happens must not hide the 413
        return PlainTextResponse("parsed nothing", status_code=400)
    return PlainTextResponse("read")


@pytest.fixture
def limited_app() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/echo", echo_length, methods=["POST"]),
            Route("/swallow", swallow_errors, methods=["POST"]),
        ]
    )
    with UvicornThread(BodyLimit(app, max_bytes=64 * 1024)) as server:
        yield server.url


def streamed(total: int) -> Iterator[bytes]:
    for _ in range(total // 4096):
        yield b"y" * 4096


@pytest.mark.parametrize("path", ["/echo", "/swallow"])
def test_a_streamed_body_over_the_limit_gets_413(limited_app: str, path: str) -> None:
    answer = httpx.post(limited_app + path, content=streamed(1024 * 1024))
    assert answer.status_code == 413


def test_a_streamed_body_under_the_limit_is_read_whole(limited_app: str) -> None:
    answer = httpx.post(limited_app + "/echo", content=streamed(60 * 1024))
    assert (answer.status_code, answer.text) == (200, str(60 * 1024))


@pytest.mark.parametrize(
    "target",
    [
        "/archive/daily-2026-12-01%00",
        "/confirm/abc%00def",
        "/unsubscribe/%0d%0aSet-Cookie:x=y",
        "/feeds/all-tr.rss%00",
        "/subscribe?lang=tr%00",
    ],
)
def test_control_characters_in_a_url_are_a_400_on_every_database(
    engine: Engine, tmp_path: Path, target: str
) -> None:
    with running_site(engine, tmp_path) as running:
        answer = httpx.get(running.url + target)
    assert answer.status_code == 400
    assert "control characters" in answer.text


@pytest.mark.parametrize(
    ("path", "target"), [("/archive", "/archive/"), ("/archive?lang=en", "/archive/?lang=en")]
)
def test_redirects_are_built_on_public_url_not_on_the_host_header(
    site: Site, path: str, target: str
) -> None:
    answer = httpx.get(site.url + path, headers={"Host": "evil.example"})
    assert answer.status_code in (301, 307, 308)
    assert answer.headers["location"] == site.url + target


def raw_exchange(url: str, chunks: list[bytes], pause: float) -> tuple[bytes, float]:
    """Send `chunks` `pause` seconds apart on one connection; (all it answered, and
    how long until the server closed it)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # closed on us: what we are here to see
            time.sleep(pause)
        received = b""
        while piece := sock.recv(65536):
            received += piece
    return received, time.monotonic() - started


def test_headers_dripped_byte_by_byte_are_cut_off_with_408(site: Site) -> None:
    drip = [b"GET / HTTP/1.1\r\nHost: x\r\n"] + [bytes([c]) for c in b"X-Slow: abcdefghij"]
    received, took = raw_exchange(site.url, drip, pause=0.2)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert took < 3.5  # 1 s allowed, not the 3.8 s the drip would take


def test_a_connection_that_sends_nothing_is_closed(site: Site) -> None:
    received, took = raw_exchange(site.url, [], pause=0)
    assert received.startswith(b"HTTP/1.1 408 ") and took < 3


def test_keep_alive_and_pipelined_requests_still_work(site: Site) -> None:
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    received, _ = raw_exchange(site.url, [one, one + one, last], pause=0.6)
    assert received.count(b"HTTP/1.1 ") == 4 and b" 408 " not in received


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def subscribe_with(client: httpx.Client, site: Site, token: str) -> httpx.Response:
    form = {"csrf_token": token, "email": "ayse@example.com", "language": "tr",
            "cadence": "daily", "format": "html", "consent": "yes"}  # fmt: skip
    return client.post(f"{site.url}/subscribe", data=form)


def test_a_cookie_the_attacker_chose_is_refused_with_its_token(site: Site) -> None:
    chosen = "attacker-chosen-value-0123456789abcdef"
    with httpx.Client(cookies={csrf.COOKIE: chosen}) as attacker:
        page = attacker.get(f"{site.url}/subscribe")
    assert page.cookies.get(csrf.COOKIE) not in (None, chosen)  # replaced by one of ours
    # The victim's browser holds the chosen cookie (tossed from a sibling subdomain); the
    # attacker's form carries the token the old code showed for it, or the page's.
    for token in (csrf.form_token(chosen, SECRET), csrf_of(page.text)):
        with httpx.Client(cookies={csrf.COOKIE: chosen}) as victim:
            assert subscribe_with(victim, site, token).status_code == 403
    assert site.mails() == []


def test_a_cookie_signed_with_another_key_is_refused(site: Site) -> None:
    other = TimestampSigner("another-secret-key-0123456789", salt=csrf.SALT).sign("nonce")
    value = other.decode()
    with httpx.Client(cookies={csrf.COOKIE: value}) as client:
        assert subscribe_with(client, site, csrf.form_token(value, SECRET)).status_code == 403


class EightDaysAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 8 * 24 * 3600


def test_an_expired_cookie_is_refused_and_renewed(site: Site) -> None:
    value = EightDaysAgo(SECRET, salt=csrf.SALT).sign("nonce-of-last-week").decode()
    with httpx.Client(cookies={csrf.COOKIE: value}) as client:
        refused = subscribe_with(client, site, csrf.form_token(value, SECRET))
        assert refused.status_code == 403
        assert refused.cookies.get(csrf.COOKIE) not in (None, value)  # a fresh one
        page = client.get(f"{site.url}/subscribe")
        assert subscribe_with(client, site, csrf_of(page.text)).status_code == 200
    assert site.wait_for_mails(1)


def test_the_issued_cookie_and_its_token_pass(site: Site) -> None:
    with httpx.Client() as client:
        page = client.get(f"{site.url}/subscribe")
        again = client.get(f"{site.url}/subscribe")
        assert csrf.COOKIE not in again.cookies  # not reissued on every page
        assert subscribe_with(client, site, csrf_of(page.text)).status_code == 200


def delayed_wordpress(upstream: Upstream, seconds: float):  # type: ignore[no-untyped-def]
    """A fault that answers as WordPress does, `seconds` late."""

    async def answer(request: Request) -> Response:
        await asyncio.sleep(seconds)
        return upstream.wordpress(request)

    return answer


def titles(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {a.title for a in article_store.latest_articles(conn, 100)}


def wait_until_idle(coalesced: Coalesced, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(0.2)
    while coalesced.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not coalesced.running


def test_thirty_webhook_calls_during_a_collection_make_one_more_run(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    upstream = Upstream()
    upstream.posts = [wp_post(1, "Birinci", "<p>bir</p>", NOW - timedelta(minutes=9))]
    with upstream.running():
        settings = service_settings(
            upstream, sqlite_engine, tmp_path / "feeds", webhook_secret=HOOK_SECRET
        )
        runtime = Runtime(settings, clock=lambda: NOW)
        app = create_app(runtime)
        hook_headers = {"X-M5-Webhook-Secret": HOOK_SECRET}
        with UvicornThread(app, **server_options(settings.web)) as server, httpx.Client() as client:
            hook = f"{server.url}/api/hooks/wordpress"

            def one_run() -> int:
                """Requests to WordPress of one hooked collection."""
                before = len(upstream.requests_to(POSTS_PATH))
                assert client.post(hook, headers=hook_headers).status_code == 202
                wait_until_idle(app.state.hook_collections)
                return len(upstream.requests_to(POSTS_PATH)) - before

            one_run()  # the first collection walks from the start
            steady = one_run()
            assert steady >= 1 and titles(sqlite_engine) == {"Birinci"}

            before = len(upstream.requests_to(POSTS_PATH))
            upstream.fail(POSTS_PATH, delayed_wordpress(upstream, 3.0))
            started = time.monotonic()
            for _ in range(30):
                assert client.post(hook, headers=hook_headers).status_code == 202
            assert time.monotonic() - started < 3.0  # all came during the first run
            upstream.posts.append(wp_post(2, "İkinci", "<p>iki</p>", NOW - timedelta(minutes=1)))
            wait_until_idle(app.state.hook_collections)
            flood = len(upstream.requests_to(POSTS_PATH)) - before
        runtime.close()
    assert flood == 2 * steady, f"{flood} requests to WordPress for 30 calls"
    assert titles(sqlite_engine) == {"Birinci", "İkinci"}  # nothing missed

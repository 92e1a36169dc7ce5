"""The fetcher's decisions, on a mock transport (the real-socket cases are in
tests/integration/test_collect_*.py)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable

import httpx
import pytest

from m5syndicate.collect.fetcher import Fetched, Fetcher, user_agent
from m5syndicate.config import CollectSettings
from m5syndicate.errors import FetchError

Handler = Callable[[httpx.Request], httpx.Response]


def fetch(handler: Handler, url: str = "https://m5.test/feed", **how: object) -> Fetched:
    async def run() -> Fetched:
        fetcher = Fetcher(
            CollectSettings(max_body_mb=1, max_redirects=2),
            user_agent("https://news.test"),
            httpx.MockTransport(handler),
        )
        try:
            return await fetcher.get(url, **how)  # type: ignore[arg-type]
        finally:
            await fetcher.aclose()

    return asyncio.run(run())


def test_validators_are_sent_back_verbatim_and_304_is_not_an_error() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304, headers={"etag": 'W/"v1"'})

    answer = fetch(handler, etag='W/"v1"', last_modified="Fri, 27 Nov 2026 06:00:00 GMT")
    assert answer.not_modified and answer.body == b""
    assert seen[0].headers["if-none-match"] == 'W/"v1"'
    assert seen[0].headers["if-modified-since"] == "Fri, 27 Nov 2026 06:00:00 GMT"
    assert seen[0].headers["user-agent"].startswith("m5syndicate/")


def test_redirects_report_a_move_only_when_every_hop_is_permanent() -> None:
    def chain(*hops: int) -> Handler:
        def handler(request: httpx.Request) -> httpx.Response:
            step = int(request.url.params.get("step", "0"))
            if step < len(hops):
                return httpx.Response(hops[step], headers={"location": f"/feed?step={step + 1}"})
            return httpx.Response(200, content=b"<rss/>")

        return handler

    assert fetch(chain(301, 308)).moved_to == "https://m5.test/feed?step=2"
    assert fetch(chain(301, 302)).moved_to == ""
    assert fetch(chain(307)).moved_to == ""
    with pytest.raises(FetchError, match="more than 2 redirects"):
        fetch(chain(301, 301, 301))


def test_body_cap_counts_decompressed_bytes() -> None:
    packed = gzip.compress(b"x" * (2 * 1024 * 1024))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=packed, headers={"content-encoding": "gzip"})

    assert len(packed) < 1024 * 1024
    with pytest.raises(FetchError, match="larger than 1 MiB"):
        fetch(handler)


def test_declared_oversize_is_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * (1024 * 1024 + 1))

    with pytest.raises(FetchError, match="larger than 1 MiB"):
        fetch(handler)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "120"}, 120.0),
        (
            {
                "retry-after": "Fri, 27 Nov 2026 07:00:00 GMT",
                "date": "Fri, 27 Nov 2026 06:00:00 GMT",
            },
            3600.0,
        ),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "999999999"}, 86400.0),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(headers: dict[str, str], wait: float | None) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(lambda request: httpx.Response(429, headers=headers))
    assert caught.value.retry_after == wait


def test_accepted_statuses_are_returned_not_raised() -> None:
    answer = fetch(lambda request: httpx.Response(400, content=b"{}"), accept=(400,))
    assert answer.status == 400


def test_transport_errors_become_fetch_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(FetchError, match="cannot connect"):
        fetch(refuse)
    with pytest.raises(FetchError, match="no answer within"):
        fetch(stall)


def test_one_request_at_a_time_per_host_but_hosts_in_parallel() -> None:
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        active[host] = active.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), active[host])
        peak["all"] = max(peak.get("all", 0), sum(active.values()))
        await asyncio.sleep(0.02)
        active[host] -= 1
        return httpx.Response(200, content=b"ok")

    async def run() -> None:
        fetcher = Fetcher(CollectSettings(), "ua", httpx.MockTransport(handler))
        urls = [f"https://{host}.test/{i}" for host in ("a", "b") for i in range(4)]
        await asyncio.gather(*(fetcher.get(url) for url in urls))
        await fetcher.aclose()

    asyncio.run(run())
    assert peak["a.test"] == 1 and peak["b.test"] == 1
    assert peak["all"] == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ConnectTimeout, "no connection within 20s (timeout_seconds)"),
        (httpx.ReadTimeout, "no answer within 20s (timeout_seconds)"),
        (httpx.PoolTimeout, "no free connection within 20s (timeout_seconds)"),
    ],
)
def test_a_timeout_names_the_wait_that_ran_out_before_the_url(
    failure: type[httpx.TimeoutException], reason: str
) -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise failure("timed out", request=request)

    with pytest.raises(FetchError) as caught:
        fetch(stall)
    assert str(caught.value).startswith(f"collect: {reason} from https://m5.test/feed; ")


def test_an_http_error_leads_with_status_and_reason() -> None:
    with pytest.raises(FetchError) as caught:
        fetch(lambda request: httpx.Response(500))
    assert str(caught.value) == (
        "collect: HTTP 500 Internal Server Error from https://m5.test/feed; "
        "the next check will retry"
    )

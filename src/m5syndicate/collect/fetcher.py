"""All of m5syndicate's HTTP: one polite, careful async client.

Every decision about talking to an upstream lives here (as in miniflux's fetcher):
conditional GET with the stored validators sent back verbatim, a body cap counted after
decompression, connect/read timeouts plus a deadline for the whole exchange, redirects
followed by hand (bounded, and a permanent move reported so the stored URL follows it),
429/503 ``Retry-After`` read as seconds or an HTTP date, one request at a time per host,
and a User-Agent naming us. Callers get a ``Fetched`` or a ``FetchError`` saying what
happened and what to do; no httpx exception leaves this module.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from urllib.parse import urljoin, urlsplit

import httpx

from m5syndicate import __version__
from m5syndicate.config import CollectSettings
from m5syndicate.errors import FetchError

REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
RETRY_LATER = (429, 503)
DEADLINE_FACTOR = 3  # a whole exchange gets this many timeouts: slow drips end too
MAX_RETRY_AFTER = 86400.0  # a Retry-After beyond a day is an upstream mistake
RETRY = "the next check will retry"


@cache
def tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~30 ms of CPU: once per process, not per client."""
    return httpx.create_ssl_context()


def user_agent(public_url: str) -> str:
    return f"m5syndicate/{__version__} (+{public_url})"


@dataclass(frozen=True)
class Fetched:
    """One answered request: a 2xx body, a 304, or a status the caller accepted."""

    url: str  # the URL that finally answered, after redirects
    status: int
    body: bytes
    headers: httpx.Headers
    moved_to: str = ""  # set when every redirect on the way was permanent (301/308)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Fetcher:
    """One per event loop; ``aclose()`` it when done. The client is made on first use."""

    def __init__(
        self,
        settings: CollectSettings,
        agent: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.transport = transport
        self.max_bytes = settings.max_body_mb * 1024 * 1024
        self._client: httpx.AsyncClient | None = None
        self._host_locks: dict[str, asyncio.Lock] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self.transport,
                verify=tls_context(),
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                follow_redirects=False,  # followed by hand: bounded, moves reported
                headers={"user-agent": self.agent, "accept-encoding": "gzip, deflate"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        etag: str = "",
        last_modified: str = "",
        accept: Collection[int] = (),
        accept_type: str = "",
    ) -> Fetched:
        """GET ``url``; statuses in ``accept`` are returned instead of raised."""
        headers = conditional_headers(etag, last_modified)
        if accept_type:
            headers["accept"] = accept_type
        current, permanent = url, True
        for _ in range(self.settings.max_redirects + 1):
            status, response_headers, body = await self.exchange(current, headers)
            location = response_headers.get("location")
            if status in REDIRECTS and location:
                permanent = permanent and status in PERMANENT
                current = urljoin(current, location)
                continue
            moved = current if permanent and current != url else ""
            fetched = Fetched(current, status, body, response_headers, moved)
            return check_status(fetched, url, accept)
        raise FetchError(
            failure(
                url,
                f"more than {self.settings.max_redirects} redirects",
                "point the source's url at the final address",
            )
        )

    async def exchange(self, url: str, headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        """One request, one at a time per host, translated errors, capped body."""
        timeout = self.settings.timeout_seconds
        async with self.host_lock(url):
            try:
                async with asyncio.timeout(timeout * DEADLINE_FACTOR):
                    return await self.stream(url, headers)
            except httpx.TimeoutException as exc:  # one connect or read waited too long
                raise FetchError(
                    failure(url, waited(exc, timeout), "the server is slow or down, " + RETRY)
                ) from exc
            except TimeoutError as exc:  # answers kept coming, too slowly: a slow drip
                raise FetchError(
                    failure(
                        url,
                        f"the whole exchange took more than {timeout * DEADLINE_FACTOR:g}s "
                        f"({DEADLINE_FACTOR} x timeout_seconds)",
                        "the server sends too slowly, " + RETRY,
                    )
                ) from exc
            except httpx.HTTPError as exc:
                raise FetchError(
                    failure(url, describe(exc), "check the source's url and that the site is up")
                ) from exc

    async def stream(self, url: str, headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        async with self.client.stream("GET", url, headers=headers) as response:
            if response.status_code in REDIRECTS or response.status_code == 304:
                return response.status_code, response.headers, b""
            self.refuse_declared_size(url, response.headers)
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decompressed: the cap counts that
                body += chunk
                if len(body) > self.max_bytes:
                    raise self.too_large(url)
            return response.status_code, response.headers, bytes(body)

    def refuse_declared_size(self, url: str, headers: httpx.Headers) -> None:
        declared = headers.get("content-length", "")
        encoded = "content-encoding" in headers  # then the length is before decompression
        if not encoded and declared.isdigit() and int(declared) > self.max_bytes:
            raise self.too_large(url)

    def too_large(self, url: str) -> FetchError:
        return FetchError(
            failure(
                url,
                f"the body is larger than {self.settings.max_body_mb} MiB",
                "raise [collect] max_body_mb if it is genuine",
            )
        )

    def host_lock(self, url: str) -> asyncio.Lock:
        """Never two requests at once to one host, whichever source asks."""
        parts = urlsplit(url)
        key = f"{parts.hostname}:{parts.port or parts.scheme}"
        return self._host_locks.setdefault(key, asyncio.Lock())


def conditional_headers(etag: str, last_modified: str) -> dict[str, str]:
    headers = {}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    return headers


def check_status(fetched: Fetched, asked: str, accept: Collection[int]) -> Fetched:
    status = fetched.status
    if 200 <= status < 300 or status == 304 or status in accept:
        return fetched
    reason = httpx.codes.get_reason_phrase(status)
    if status in RETRY_LATER:
        wait = retry_after(fetched.headers)
        later = f"retry after {wait:.0f}s" if wait is not None else "retry later"
        raise FetchError(
            failure(asked, f"HTTP {status} {reason}", f"the server asks us to slow down, {later}"),
            retry_after=wait,
        )
    advice = {
        404: "check the source's url",
        410: "the resource is gone; remove or fix the source",
        401: "the site wants credentials; m5syndicate reads public content only",
        403: "the site refuses us; ask its admin to allow our User-Agent",
    }.get(status, RETRY if status >= 500 else "check the source's url")
    raise FetchError(failure(asked, f"HTTP {status} {reason}", advice))


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait: ``Retry-After: 120`` or an HTTP date (against the server's Date)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        until = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    try:
        server_now = parsedate_to_datetime(headers.get("date", "")).timestamp()
    except (TypeError, ValueError):
        server_now = time.time()
    return min(max(until - server_now, 0.0), MAX_RETRY_AFTER)


def failure(url: str, reason: str, advice: str) -> str:
    """Every fetch error reads "collect: <reason> from <url>; <advice>": the reason
    first, so a narrow column or a log line cut short still shows why."""
    return f"collect: {reason} from {url}; {advice}"


def waited(exc: httpx.TimeoutException, timeout: float) -> str:
    """Which wait of ``timeout_seconds`` ran out."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout:g}s (timeout_seconds)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {timeout:g}s (timeout_seconds)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"the request could not be sent within {timeout:g}s (timeout_seconds)"
    return f"no answer within {timeout:g}s (timeout_seconds)"


def describe(exc: httpx.HTTPError) -> str:
    """A short reason for a transport failure ('connection refused', 'bad gzip')."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx.DecodingError):
        return f"the body could not be decompressed ({text})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({text})"
    return text

"""How uvicorn serves the app: the options `serve`, `run` and the tests share.

- Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the peers in
  `[web] forwarded_allow_ips`; by default from nobody, so the per-IP limit of the
  subscribe form counts the peer's own address (uvicorn's default trusts 127.0.0.1).
- A request's headers must arrive within HEADER_TIMEOUT_SECONDS of the connection (or
  of the previous response): uvicorn's h11 server has no such limit, its keep-alive
  timeout only starts after a response and any byte cancels it, so a client dripping
  one header byte at a time held a connection for as long as it liked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from m5syndicate.config import WebSettings

HEADER_TIMEOUT_SECONDS = 10.0
HEADER_BYTES = 16 * 1024  # the request line and headers together (h11's own default)
KEEP_ALIVE_SECONDS = 5
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers: armed when the
    connection opens and after each response, disarmed when a request's headers are
    complete (uvicorn then starts a new request cycle); when it fires: 408 and close."""

    header_timeout = HEADER_TIMEOUT_SECONDS
    header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm_header_deadline()

    def on_response_complete(self) -> None:
        self.arm_header_deadline()  # before: a pipelined request is handled inside
        super().on_response_complete()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers arrived
            self.disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_header_deadline()
        super().connection_lost(exc)

    def arm_header_deadline(self) -> None:
        self.disarm_header_deadline()
        if not self.transport.is_closing():
            self.header_deadline = self.loop.call_later(self.header_timeout, self.headers_late)

    def disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def headers_late(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()


def header_deadline_protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class with its own header timeout (tests use a short one)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})


def server_options(
    web: WebSettings, header_timeout: float = HEADER_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` (beyond the app, host and port)."""
    return {
        "proxy_headers": bool(web.forwarded_allow_ips),
        "forwarded_allow_ips": list(web.forwarded_allow_ips),
        "http": header_deadline_protocol(header_timeout),
        "h11_max_incomplete_event_size": HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }

"""A real SMTP server on loopback (aiosmtpd, in a thread) that misbehaves on purpose.

Faults are keyed by recipient address and counted down, so "451 twice, then accept" is
`rcpt_temp={"a@x": 2}`. Every accepted message is kept (recipient, bytes) so tests can
count duplicates.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import free_port


@dataclass
class Faults:
    rcpt_temp: dict[str, int] = field(default_factory=dict)  # 451 at RCPT, n times
    data_temp: dict[str, int] = field(default_factory=dict)  # 451 after DATA, n times
    hangup: dict[str, int] = field(default_factory=dict)  # 421 and close, n times
    drop: dict[str, int] = field(default_factory=dict)  # connection cut at DATA, n times
    hard_bounce: set[str] = field(default_factory=set)  # 550 5.1.1 at RCPT, always
    policy: set[str] = field(default_factory=set)  # 550 5.7.1 after DATA, always
    delay: float = 0.0  # seconds before answering the end of the message (the final dot)
    sender_refused: str = ""  # the reply to every MAIL FROM, e.g. "553 5.1.8 ..."


class FaultyHandler:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.lock = threading.Lock()
        self.received: list[tuple[str, bytes]] = []
        self.refusals: Counter[str] = Counter()
        # (time.monotonic(), "MAIL" or "END", address): when each transaction began and
        # when its final dot arrived, for tests of what waits for what.
        self.events: list[tuple[float, str, str]] = []

    def take(self, table: dict[str, int], address: str) -> bool:
        with self.lock:
            if table.get(address, 0) > 0:
                table[address] -= 1
                self.refusals[address] += 1
                return True
        return False

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self.lock:
            self.events.append((time.monotonic(), "MAIL", address))
        if self.faults.sender_refused:
            return self.faults.sender_refused
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.faults.hard_bounce:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.take(self.faults.rcpt_temp, address):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        address = envelope.rcpt_tos[0]
        with self.lock:
            self.events.append((time.monotonic(), "END", address))
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.take(self.faults.drop, address):
            server.transport.abort()  # type: ignore[union-attr]
            return "451 never seen"
        if self.take(self.faults.hangup, address):
            asyncio.get_running_loop().call_later(0.01, server.transport.close)  # type: ignore[union-attr]
            return "421 4.3.2 Service shutting down"
        if self.take(self.faults.data_temp, address):
            return "451 4.3.0 Queue full, try later"
        if address in self.faults.policy:
            return "550 5.7.1 Message rejected by policy"
        content = envelope.original_content or b""
        with self.lock:
            self.received.append((address, content))
        return "250 2.0.0 Queued"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(address for address, _ in self.received)


class FaultySMTPServer:
    """`with FaultySMTPServer(Faults(...)) as server: ... server.url`.

    ``starttls`` offers STARTTLS with that context, ``implicit_tls`` speaks TLS from the
    first byte (smtps), ``login`` = (user, password) offers AUTH (after TLS only, as
    aiosmtpd does by default) and refuses other credentials with 535."""

    def __init__(
        self,
        faults: Faults | None = None,
        port: int | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.handler = FaultyHandler(faults or Faults())
        self.port = port or free_port()
        self.login = login
        extra: dict[str, Any] = {}
        if starttls is not None:
            extra["tls_context"] = starttls
        if login is not None:
            extra["authenticator"] = self.authenticate
            # aiosmtpd counts only STARTTLS as TLS; an smtps connection is TLS throughout.
            extra["auth_require_tls"] = implicit_tls is None
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=10,
            ssl_context=implicit_tls,
            **extra,
        )

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            (data.login.decode(), data.password.decode()) == self.login
        )
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def __enter__(self) -> FaultySMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.handler.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.handler.received)} of {count} messages")
            time.sleep(0.01)

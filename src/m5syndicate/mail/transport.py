"""Transports hand finished messages to the world. The delivery use cases depend only on
the `Transport` protocol; `runtime` alone picks the concrete one.

- `OutboxTransport` (the embedded default): each message a file in a Maildir
  (``new/``), written to ``tmp/`` first and renamed, so a reader never sees half a file.
- The SMTP transport lives in ``smtp.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from m5syndicate.errors import TemporaryFailure
from m5syndicate.mail.message import Envelope

# Awaited by a transport at the last moment before the message is handed over for good
# (SMTP: before the final dot). The sender's previous message is being recorded
# meanwhile; the next one travels while it is, and is committed only once it has been.
GoAhead = Callable[[], Awaitable[None]]


class HeldBack(Exception):
    """Raised by a go-ahead that will not come: the transport drops the message
    unfinished (SMTP: closes the connection before the final dot, so the relay keeps
    nothing) and lets this through. Never a delivery failure: nobody was mailed."""


class Transport(Protocol):
    async def send(self, envelope: Envelope, go_ahead: GoAhead | None = None) -> str:
        """Hand one message over; return the server's reply. Raise TemporaryFailure
        (retry later) or PermanentFailure (never retry). ``go_ahead`` is awaited just
        before the message is committed; whatever it raises (HeldBack) passes through
        and the message is not delivered."""
        ...

    async def close(self) -> None: ...


class OutboxTransport:
    """A Maildir on disk: ``<dir>/new/<unique>.eml``, one file per message."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        for sub in ("tmp", "new", "cur"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    async def send(self, envelope: Envelope, go_ahead: GoAhead | None = None) -> str:
        if go_ahead is not None:
            await go_ahead()  # nothing is written before: a file is the whole message
        return await asyncio.to_thread(self.write, envelope)

    def write(self, envelope: Envelope) -> str:
        name = f"{time.time_ns()}.{uuid.uuid4().hex[:12]}.{socket.gethostname()}.eml"
        temporary, final = self.folder / "tmp" / name, self.folder / "new" / name
        try:
            with temporary.open("wb") as handle:
                handle.write(envelope.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError as exc:
            raise TemporaryFailure(f"outbox: cannot write {final}: {exc.strerror}") from exc
        return f"250 written {final.name}"

    async def close(self) -> None:
        return None

    def messages(self) -> list[Path]:
        """The delivered files, oldest first (for tests, preview and the demo)."""
        return sorted((self.folder / "new").glob("*.eml"))

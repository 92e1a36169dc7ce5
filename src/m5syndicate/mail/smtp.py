"""The SMTP transport: a pool of aiosmtplib connections, each reused for many messages.

``smtp://user:pass@host:587`` upgrades with STARTTLS when the server offers it
(``?starttls=require`` refuses to go on without it, ``?starttls=off`` never tries);
``smtps://host:465`` is TLS from the first byte. Messages are handed over as bytes with
``sendmail`` (never ``send_message``, which may re-encode what DKIM signed).

Replies become our errors: 4xx, 421, timeouts and dropped connections are temporary
(the connection is dropped and a fresh one used next time); 5xx is permanent (the
connection stays: the client resets the envelope).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponseException,
)

from m5syndicate.config import redact_url
from m5syndicate.errors import ConfigError, DeliveryError, PermanentFailure, TemporaryFailure
from m5syndicate.mail.message import Envelope

STARTTLS_MODES = {"auto": None, "require": True, "off": False}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool | None  # None: if offered
    verify: bool = True

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:587][?starttls=auto|require|off&verify=false], smtps://..."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"config: [delivery] smtp_url: {redact_url(url)!r} is not an SMTP URL; "
            "write smtp://user:pass@host:587 or smtps://user:pass@host:465"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    mode = query.get("starttls", "auto")
    if mode not in STARTTLS_MODES:
        raise ConfigError(
            f"config: [delivery] smtp_url: starttls={mode!r}; use auto, require or off"
        )
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=False if implicit else STARTTLS_MODES[mode],
        verify=query.get("verify", "true") != "false",
    )


class SmtpTransport:
    """Up to ``connections`` open connections; a message takes an idle one or opens one."""

    def __init__(self, target: SmtpTarget, connections: int, timeout: float) -> None:
        self.target, self.connections, self.timeout = target, connections, timeout
        self.idle: list[SMTP] = []
        self.slots: asyncio.Semaphore | None = None

    async def send(self, envelope: Envelope) -> str:
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.connections)
        async with self.slots:
            client = self.idle.pop() if self.idle else await self.connect()
            keep = False
            try:
                _, reply = await client.sendmail(
                    envelope.sender, list(envelope.recipients), envelope.data
                )
                keep = True
                return f"250 {reply}"
            except SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                keep = refused.code >= 500
                raise by_code(refused.code, refused.message, "recipient refused") from exc
            except SMTPResponseException as exc:
                keep = exc.code >= 500
                raise by_code(exc.code, exc.message, "server refused the message") from exc
            except (SMTPException, OSError, TimeoutError) as exc:
                raise TemporaryFailure(
                    f"smtp: {self.target.name}: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                if keep and client.is_connected:
                    self.idle.append(client)
                else:
                    client.close()

    async def connect(self) -> SMTP:
        target = self.target
        client = SMTP(
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.implicit_tls,
            start_tls=target.starttls,
            validate_certs=target.verify,
            timeout=self.timeout,
        )
        try:
            await client.connect()
        except SMTPResponseException as exc:
            client.close()
            raise by_code(exc.code, exc.message, f"{target.name} refused the connection") from exc
        except (SMTPException, OSError, TimeoutError) as exc:
            client.close()
            raise TemporaryFailure(
                f"smtp: cannot connect to {target.name}: {exc}; is the relay up?"
            ) from exc
        return client

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for client in idle:
            with contextlib.suppress(SMTPException, OSError, TimeoutError):
                await client.quit(timeout=5)
            client.close()


def by_code(code: int, message: str, what: str) -> DeliveryError:
    """5xx is permanent; everything else (4xx, 421, odd codes) is worth another try."""
    text = f"{code} {message}".strip()
    if 500 <= code < 600:
        return PermanentFailure(f"smtp: {what}: {text}", code=code)
    return TemporaryFailure(f"smtp: {what}: {text}", code=code)

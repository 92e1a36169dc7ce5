"""The SMTP transport: a pool of aiosmtplib connections, each reused for many messages.

URLs (README, "Sending mail"): ``smtp://user:pass@host:587`` must upgrade with STARTTLS
(``?starttls=off`` sends in clear, ``?starttls=auto`` upgrades only if offered: both must
be written out); ``smtps://host:465`` is TLS from the first byte. ``verify=false``,
``ca_file=PATH`` and ``local_hostname=NAME`` tune TLS and EHLO. Messages are handed over as
the exact bytes built (never ``send_message``, which may re-encode what DKIM signed); a
digest's bytes come dot-stuffed already (``Envelope.stuffed``) and are written as they are.

A connection is opened in steps (greeting, EHLO, STARTTLS, EHLO, AUTH) so that a failure
says which step failed: a relay that is down, a TLS certificate not trusted, a handshake
on the wrong port, no STARTTLS, a login refused. All of them are temporary for the
deliveries (the ledger keeps them pending, no attempt counted; ``pause_after`` pauses the
edition with the message), since none is the recipient's fault.

Replies to a message become our errors, each with the step it happened at (errors.py
SMTP_STEPS; the failure policy decides by it): 4xx, 421, timeouts and dropped connections
are temporary (the connection is dropped and a fresh one used next time); 5xx is
permanent (the connection stays: the envelope is reset). A timeout or dropped connection
after the whole message was sent is an UnknownOutcome: the relay may have queued it.
A refused login, or a relay lacking STARTTLS or AUTH, is permanent too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPStatus,
)
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import PERIOD_REGEX, SMTPProtocol, normalize_message_line_endings

from m5syndicate.config import redact_url
from m5syndicate.errors import (
    ConfigError,
    DeliveryError,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from m5syndicate.mail.message import PLAIN_ADDRESS, Envelope
from m5syndicate.mail.transport import GoAhead

STARTTLS_MODES = {"require": True, "auto": None, "off": False}
BOOLEANS = {"true": True, "false": False}
OPTIONS = ("starttls", "verify", "ca_file", "local_hostname")
PLACE = "config: [delivery] smtp_url"


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool | None  # True: required; None: if offered; False: never
    verify: bool = True
    ca_file: str | None = None
    local_hostname: str | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:587][?starttls=require|auto|off&verify=..&ca_file=..
    &local_hostname=..], smtps://[user:pass@]host[:465][?verify=..&ca_file=..]."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"{PLACE}: {redact_url(url)!r} is not an SMTP URL; "
            "write smtp://user:pass@host:587 or smtps://user:pass@host:465"
        )
    query = read_options(parts.query)
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 587)
    except ValueError:
        raise ConfigError(
            f"{PLACE}: {redact_url(url)!r} has a port that is not a number from 1 to 65535"
        ) from None
    starttls = starttls_mode(query, implicit)
    if not implicit and port == 465 and starttls is not False:
        raise ConfigError(
            f"{PLACE}: port 465 speaks TLS from the first byte; write smtps://{parts.hostname}:465 "
            f"(smtp:// with STARTTLS is for port 587)"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if username and password is None:
        raise ConfigError(
            f"{PLACE}: user {username!r} has no password; write smtp://USER:PASSWORD@host "
            "(percent-encode @ : / in them), or drop the user if the relay needs no login"
        )
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=username,
        password=password,
        implicit_tls=implicit,
        starttls=starttls,
        verify=flag(query, "verify"),
        ca_file=ca_file(query),
        local_hostname=query.get("local_hostname") or None,
    )


def read_options(text: str) -> dict[str, str]:
    query = {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
    unknown = sorted(set(query) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"{PLACE}: unknown option {unknown[0]!r}; allowed: {', '.join(OPTIONS)} "
            "(README, Sending mail)"
        )
    return query


def starttls_mode(query: dict[str, str], implicit: bool) -> bool | None:
    if implicit:
        if "starttls" in query:
            raise ConfigError(
                f"{PLACE}: starttls does not apply to smtps:// (TLS from the first byte); "
                "drop it, or write smtp://host:587 for STARTTLS"
            )
        return False
    mode = query.get("starttls", "require")
    if mode not in STARTTLS_MODES:
        raise ConfigError(
            f"{PLACE}: starttls={mode!r}; use require (the default), auto (only if the relay "
            "offers it) or off (never: mail and password in clear)"
        )
    return STARTTLS_MODES[mode]


def flag(query: dict[str, str], name: str) -> bool:
    value = query.get(name, "true").lower()
    if value not in BOOLEANS:
        raise ConfigError(f"{PLACE}: {name}={query[name]!r}; use true or false")
    return BOOLEANS[value]


def ca_file(query: dict[str, str]) -> str | None:
    path = query.get("ca_file")
    if path is None:
        return None
    if not Path(path).is_file():
        raise ConfigError(
            f"{PLACE}: ca_file={path!r} is not a readable file; give the PEM file of the "
            "CA certificate(s) that signed the relay's certificate"
        )
    return path


class RelayLacks(Exception):
    """The relay does not offer what the URL needs (STARTTLS, AUTH)."""


class SmtpTransport:
    """Up to ``connections`` open connections; a message takes an idle one or opens one.

    Each message is one transaction in steps (MAIL FROM, RCPT, DATA, the message and its
    final dot), so every failure says where it happened (the failure policy depends on
    it) and the final reply gets its own long timeout (``data_timeout``, RFC 5321
    4.5.3.2: 10 minutes): a relay slow to acknowledge must not be sent the message twice.

    A ``go_ahead`` is awaited after the message and before its final dot: until the dot
    the relay has accepted nothing, and if the go-ahead raises, the connection is closed
    there and the relay drops the unfinished message (RFC 5321 4.1.1.4).
    """

    def __init__(
        self, target: SmtpTarget, connections: int, timeout: float, data_timeout: float = 600.0
    ) -> None:
        self.target, self.connections, self.timeout = target, connections, timeout
        self.data_timeout = data_timeout
        self.idle: list[SMTP] = []
        self.slots: asyncio.Semaphore | None = None

    async def send(self, envelope: Envelope, go_ahead: GoAhead | None = None) -> str:
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.connections)
        async with self.slots:
            client = self.idle.pop() if self.idle else await self.connect()
            transaction = Transaction(client, self.timeout, self.data_timeout)
            keep = False
            try:
                reply = await transaction.run(envelope, go_ahead)
                keep = True
                return reply
            except SMTPResponseException as exc:
                # A 5xx leaves the connection usable once the envelope is reset.
                keep = exc.code >= 500 and await transaction.reset()
                raise refusal(self.target, transaction.step, exc) from exc
            except (SMTPException, OSError, TimeoutError) as exc:
                raise lost(self.target, transaction, exc) from exc
            finally:
                if keep and client.is_connected:
                    self.idle.append(client)
                else:
                    client.close()

    async def connect(self) -> SMTP:
        """A connection ready for mail: greeted, encrypted as the URL says, logged in."""
        target = self.target
        client = SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.implicit_tls,
            start_tls=False,  # done below, step by step, so each failure is named
            validate_certs=target.verify,
            cert_bundle=target.ca_file,
            local_hostname=target.local_hostname,
            timeout=self.timeout,
        )
        step = "connect"
        try:
            await client.connect()
            step = "EHLO"
            await client.ehlo()
            if target.starttls is not False and client.supports_extension("starttls"):
                step = "STARTTLS"
                await client.starttls()
                step = "EHLO"
                await client.ehlo()  # RFC 3207: forget what was offered before TLS
            elif target.starttls:
                raise RelayLacks("starttls")
            if target.username:
                step = "AUTH"
                if not client.supports_extension("auth"):
                    raise RelayLacks("auth")
                await client.login(target.username, target.password or "")
        except (SMTPException, OSError, TimeoutError, RelayLacks) as exc:
            client.close()
            raise connect_failure(target, step, exc, self.timeout) from exc
        except BaseException:
            client.close()
            raise
        return client

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for client in idle:
            with contextlib.suppress(SMTPException, OSError, TimeoutError):
                await client.quit(timeout=5)
            client.close()


def wire_form(envelope: Envelope) -> tuple[int, bytes]:
    """(SIZE, what follows DATA up to the final dot): CRLF line ends, ending in CRLF,
    dot-stuffed. A digest comes stuffed already (``Envelope.stuffed``); anything else is
    normalised and stuffed here, as aiosmtplib's data() would."""
    if envelope.stuffed is None:
        data = normalize_message_line_endings(envelope.data)
        return len(data), PERIOD_REGEX.sub(b"..", data)
    if envelope.data.endswith(b"\r\n"):
        return len(envelope.data), envelope.stuffed
    return len(envelope.data) + 2, envelope.stuffed + b"\r\n"


def envelope_address(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO; anything but a plain address goes through
    aiosmtplib's own quoting, as SMTP.mail()/rcpt() would."""
    if PLAIN_ADDRESS.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    return quote_address(address).encode("ascii")


class Transaction:
    """One message on an open connection, step by step; ``step`` is where it is."""

    def __init__(self, client: SMTP, timeout: float, data_timeout: float) -> None:
        self.client, self.timeout, self.data_timeout = client, timeout, data_timeout
        self.step = "MAIL FROM"
        self.data_sent = False  # the whole message and its final dot were written

    async def run(self, envelope: Envelope, go_ahead: GoAhead | None = None) -> str:
        client = self.client
        size, wire = wire_form(envelope)
        mail = [b"FROM:" + envelope_address(envelope.sender)]
        if client.supports_extension("size"):
            mail.append(b"SIZE=%d" % size)
        # The commands as SMTP.mail()/rcpt() write them, without their per-call address
        # parsing (email.utils) of addresses we built and checked ourselves.
        reply = await client.execute_command(b"MAIL", *mail, timeout=self.timeout)
        if reply.code != SMTPStatus.completed:
            raise SMTPSenderRefused(reply.code, reply.message, envelope.sender)
        self.step = "RCPT"
        for recipient in envelope.recipients:
            to = b"TO:" + envelope_address(recipient)
            reply = await client.execute_command(b"RCPT", to, timeout=self.timeout)
            if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                raise SMTPRecipientRefused(reply.code, reply.message, recipient)
        self.step = "DATA"
        start = await client.execute_command(b"DATA", timeout=self.timeout)
        if start.code != SMTPStatus.start_input:
            raise SMTPDataError(start.code, start.message)
        self.step = "final dot"
        protocol = client.protocol
        if protocol is None:
            raise SMTPServerDisconnected("connection lost before the message was sent")
        # What aiosmtplib's data() does, but with the long timeout for this reply only.
        # write() only buffers, and read_response is awaited right after the dot, before
        # the loop runs again, so the reply cannot arrive unseen. (A relay says nothing
        # while it waits for the dot; one that drops the connection during the go-ahead
        # fails the write of the dot, before anything counts as sent.)
        protocol.write(wire)
        if go_ahead is not None:
            await go_ahead()  # raises (HeldBack): send() closes the connection, no dot
            protocol = self.protocol_still_open()
        protocol.write(b".\r\n")
        self.data_sent = True
        reply = await protocol.read_response(timeout=self.data_timeout)
        if reply.code != SMTPStatus.completed:
            raise SMTPDataError(reply.code, reply.message)
        return f"{reply.code} {reply.message}"

    def protocol_still_open(self) -> SMTPProtocol:
        """The connection after a wait: the relay may have dropped it meanwhile."""
        protocol = self.client.protocol
        if protocol is None:
            raise SMTPServerDisconnected("connection lost before the final dot")
        return protocol

    async def reset(self) -> bool:
        """After a refusal before the final dot: RSET, so the connection can go on."""
        if self.step == "final dot":
            return True  # the transaction is over; nothing to reset
        try:
            await self.client.rset(timeout=self.timeout)
        except (SMTPException, OSError, TimeoutError):
            return False
        return True


def refusal(target: SmtpTarget, step: str, exc: SMTPResponseException) -> DeliveryError:
    """A reply refusing a step: 5xx is permanent, everything else worth another try."""
    text = f"{exc.code} {exc.message}".strip()
    what = STEP_NAMES.get(step, step)
    if 500 <= exc.code < 600:
        return PermanentFailure(f"smtp: {target.name} {what}: {text}", code=exc.code, step=step)
    return TemporaryFailure(f"smtp: {target.name} {what}: {text}", code=exc.code, step=step)


def lost(target: SmtpTarget, transaction: Transaction, exc: BaseException) -> DeliveryError:
    """A timeout or dropped connection: temporary, unless the message had been sent in
    full, when the relay may well have queued it (an unknown outcome, not a retry)."""
    cause = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if transaction.data_sent:
        return UnknownOutcome(
            f"smtp: {target.name}: the message was sent but no reply to its end came "
            f"({cause}; waited up to {transaction.data_timeout:g} s, "
            "[delivery] data_timeout_seconds)",
            step="final dot",
        )
    return TemporaryFailure(
        f"smtp: {target.name} at {transaction.step}: {cause}", step=transaction.step
    )


STEP_NAMES = {
    "MAIL FROM": "refused the sender (MAIL FROM)",
    "RCPT": "refused the recipient (RCPT)",
    "DATA": "refused the message (DATA)",
    "final dot": "refused the message",
}


def connect_failure(
    target: SmtpTarget, step: str, exc: BaseException, timeout: float
) -> DeliveryError:
    """What went wrong while opening a connection, and what to change."""
    name = target.name
    tls = tls_error(exc)
    if isinstance(exc, RelayLacks) and str(exc) == "starttls":
        text = (
            f"{name} does not offer STARTTLS, and smtp:// requires it (else the password and "
            "the mail cross the network in clear); if the relay speaks TLS from the first "
            "byte write smtps://host:465, or add ?starttls=off to the URL for a relay on "
            "this machine or a trusted network"
        )
    elif isinstance(exc, RelayLacks):
        text = (
            f"{name} offers no login (AUTH) for user {target.username!r}"
            f"{'' if target.implicit_tls or target.starttls is not False else ' without TLS'}"
            "; drop user:password from the URL if the relay accepts this machine by its "
            "address, or use its submission port with TLS (587 or smtps:// 465)"
        )
    elif isinstance(exc, SMTPAuthenticationError):
        text = (
            f"{name} refused the login of {target.username!r}: {exc.code} {exc.message}; "
            "check the user and password in [delivery] smtp_url (M5_DELIVERY__SMTP_URL; "
            "percent-encode @ : / in them)"
        )
    elif isinstance(tls, ssl.SSLCertVerificationError):
        text = (
            f"{name}: the relay's TLS certificate is not trusted ({tls.verify_message}); "
            "connect by the name the certificate is for, add ?ca_file=/path/ca.pem when a "
            "private CA signed it, or (only on a trusted network) ?verify=false"
        )
    elif tls is not None:
        text = (
            f"{name}: the TLS handshake failed ({tls.reason or tls}); smtps:// is for a "
            "port with TLS from the first byte (465), smtp:// with STARTTLS for 587"
        )
    elif isinstance(exc, SMTPResponseException):
        what = "connection" if step == "connect" else step
        text = f"{name} refused the {what}: {exc.code} {exc.message}".rstrip()
    elif isinstance(exc, TimeoutError):
        text = (
            f"{name} did not answer the {step} within {timeout:g} s; is the relay up, and "
            "is the port the right one (smtps:// for 465, smtp:// for 587)?"
        )
    else:
        text = f"cannot connect to {name}: {exc}; is the relay up?"
    code = exc.code if isinstance(exc, SMTPResponseException) else None
    if isinstance(exc, RelayLacks) or (code is not None and 500 <= code < 600):
        # Waiting will not change a refused login or a missing STARTTLS: the policy
        # pauses the edition at once.
        return PermanentFailure(f"smtp: {text}", code=code, step=step)
    return TemporaryFailure(f"smtp: {text}", code=code, step=step)


def tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The ssl error behind an exception (aiosmtplib wraps some of them), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

"""The SMTP transport against a real aiosmtpd server on loopback: STARTTLS with a
self-signed certificate, implicit TLS, a relay without STARTTLS, logins. Each failure
gets its own message saying what to change, never "is the relay up?"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from m5syndicate.errors import DeliveryError, PermanentFailure
from m5syndicate.mail.message import Envelope
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from tests.smtpd import FaultySMTPServer
from tests.tls import self_signed, server_context

MAIL = Envelope("bulten@m5.test", ("okur@m5.test",), b"Subject: hi\r\n\r\nmerhaba\r\n")
LOGIN = ("mailer", "pa:ss@word")
CREDENTIALS = "mailer:pa%3Ass%40word@"  # percent-encoded in the URL


def send_one(url: str) -> tuple[str, bool]:
    """(the reply, whether the connection was encrypted)."""

    async def run() -> tuple[str, bool]:
        # Generous: a loaded CI machine can take seconds over a TLS handshake.
        transport = SmtpTransport(parse_smtp_url(url), connections=1, timeout=30)
        try:
            reply = await transport.send(MAIL)
            (client,) = transport.idle
            return reply, client.get_transport_info("sslcontext") is not None
        finally:
            await transport.close()

    return asyncio.run(run())


def failure_of(url: str) -> str:
    return str(refusal_of(url))


def refusal_of(url: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send_one(url)
    message = str(caught.value)
    assert "is the relay up" not in message
    return caught.value


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_server(cert: Path) -> Iterator[FaultySMTPServer]:
    with FaultySMTPServer(starttls=server_context(cert), login=LOGIN) as server:
        yield server


@pytest.fixture
def plain_server() -> Iterator[FaultySMTPServer]:
    with FaultySMTPServer() as server:
        yield server


def test_starttls_with_a_private_ca_and_login(
    starttls_server: FaultySMTPServer, cert: Path
) -> None:
    url = f"smtp://{CREDENTIALS}127.0.0.1:{starttls_server.port}?ca_file={cert}"
    reply, encrypted = send_one(url)
    assert reply.startswith("250") and encrypted
    assert [to for to, _ in starttls_server.handler.received] == ["okur@m5.test"]


def test_self_signed_certificate_not_trusted_says_how_to_trust_it(
    starttls_server: FaultySMTPServer,
) -> None:
    message = failure_of(f"smtp://{CREDENTIALS}127.0.0.1:{starttls_server.port}")
    assert "TLS certificate is not trusted" in message and "?ca_file=" in message
    assert starttls_server.handler.received == []
    # verify=false is the explicit way around it.
    url = f"smtp://{CREDENTIALS}127.0.0.1:{starttls_server.port}?verify=false"
    assert send_one(url)[1]


def test_certificate_for_another_name_is_not_trusted(tmp_path: Path) -> None:
    other = self_signed(tmp_path, names=("relay.test",))
    with FaultySMTPServer(starttls=server_context(other)) as server:
        message = failure_of(f"smtp://127.0.0.1:{server.port}?ca_file={other}")
    assert "not trusted" in message and "IP address mismatch" in message


def test_wrong_password_is_a_login_message(starttls_server: FaultySMTPServer, cert: Path) -> None:
    url = f"smtp://mailer:wrong@127.0.0.1:{starttls_server.port}?ca_file={cert}"
    refused = refusal_of(url)
    # Permanent and at AUTH: the policy pauses the edition at once, touching nobody.
    assert isinstance(refused, PermanentFailure) and refused.step == "AUTH"
    message = str(refused)
    assert "refused the login of 'mailer': 535" in message
    assert "check the user and password" in message and "wrong" not in message


def test_relay_without_starttls_is_refused_unless_the_url_opts_out(
    plain_server: FaultySMTPServer,
) -> None:
    message = failure_of(f"smtp://127.0.0.1:{plain_server.port}")
    assert "does not offer STARTTLS, and smtp:// requires it" in message
    assert "?starttls=off" in message
    assert plain_server.handler.received == []
    reply, encrypted = send_one(f"smtp://127.0.0.1:{plain_server.port}?starttls=off")
    assert reply.startswith("250") and not encrypted
    assert send_one(f"smtp://127.0.0.1:{plain_server.port}?starttls=auto")[1] is False
    assert len(plain_server.handler.received) == 2


def test_auto_upgrades_when_offered(starttls_server: FaultySMTPServer, cert: Path) -> None:
    url = f"smtp://127.0.0.1:{starttls_server.port}?starttls=auto&ca_file={cert}"
    assert send_one(url)[1]


def test_login_in_clear_is_not_offered(starttls_server: FaultySMTPServer) -> None:
    # aiosmtpd, like most relays, offers AUTH only once the connection is encrypted.
    url = f"smtp://{CREDENTIALS}127.0.0.1:{starttls_server.port}?starttls=off"
    message = failure_of(url)
    assert "offers no login (AUTH) for user 'mailer' without TLS" in message


def test_implicit_tls(cert: Path) -> None:
    with FaultySMTPServer(implicit_tls=server_context(cert), login=LOGIN) as server:
        reply, encrypted = send_one(f"smtps://{CREDENTIALS}127.0.0.1:{server.port}?ca_file={cert}")
        assert reply.startswith("250") and encrypted
        assert len(server.handler.received) == 1


def test_smtps_to_a_plain_port_is_a_handshake_message(plain_server: FaultySMTPServer) -> None:
    message = failure_of(f"smtps://127.0.0.1:{plain_server.port}")
    assert "TLS handshake failed" in message and "smtp:// with STARTTLS for 587" in message

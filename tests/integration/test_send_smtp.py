"""`send_due` against a real SMTP server on loopback that fails on purpose: every
temporary failure ends delivered, every permanent one is recorded, nobody gets two."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import dkim
from sqlalchemy.engine import Engine

from m5syndicate.delivery.send import SendParts, send_due
from m5syndicate.mail.dkim import DkimSigner, SigningKey
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.store import subscribers as subscriber_store
from tests.digests import (
    NOW,
    add_subscribers,
    make_article,
    parts_for,
    run_send,
    settings_for,
    store_articles,
)
from tests.smtpd import Faults, FaultySMTPServer
from tests.unit.test_links_and_dkim import ed25519_key, rsa_key
from tests.web_support import database_url_of


def smtp_transport(url: str, connections: int = 4) -> SmtpTransport:
    return SmtpTransport(parse_smtp_url(url), connections, timeout=5)


def test_faults_end_delivered_or_recorded_never_twice(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a"), make_article("b", hours_ago=3)])
    emails = add_subscribers(engine, 30)
    faults = Faults(
        rcpt_temp={emails[0]: 2, emails[1]: 1},
        data_temp={emails[2]: 3},
        hangup={emails[3]: 1},
        drop={emails[4]: 1, emails[5]: 1},
        hard_bounce={emails[6]},
        policy={emails[7]},
        delay=0.005,
    )
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"concurrency": 4})
    with FaultySMTPServer(faults) as server:
        report = run_send(engine, settings, smtp_transport(server.url))
        received = server.handler.counts()
    (edition,) = report.editions
    permanent = {emails[6], emails[7]}
    # Cut after the whole message was sent: an unknown outcome, counted as sent (the
    # default), never silently sent again.
    unknown = {emails[4], emails[5]}
    assert set(received) == set(emails) - permanent - unknown
    assert max(received.values()) == 1  # nobody twice
    assert edition.tally.sent == 26 and edition.tally.failed == 2 and edition.tally.unknown == 2
    assert edition.tally.retried >= 7
    assert edition.counts == {"sent": 26, "failed": 2, "unknown": 2}
    assert edition.edition.state == "done"
    failures = {address: (code, reply) for address, code, reply in edition.failures}
    assert failures[emails[6]][0] == 550 and "5.1.1" in failures[emails[6]][1]
    assert failures[emails[7]][0] == 550 and "5.7.1" in failures[emails[7]][1]
    with engine.connect() as conn:
        # A hard bounce suppresses the address; a policy refusal (our side) never does.
        assert subscriber_store.suppressed_among(conn, [emails[6], emails[7]]) == {emails[6]}
        assert subscriber_store.is_suppressed(conn, emails[6])


def test_unknown_outcomes_retried_when_the_operator_says_so(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 4)
    settings = settings_for(
        database_url_of(engine),
        tmp_path,
        delivery={"unknown_outcome": "retry", "retry_seconds": 0.05},
    )
    with FaultySMTPServer(Faults(drop={emails[1]: 1})) as server:
        report = run_send(engine, settings, smtp_transport(server.url))
        received = server.handler.counts()
    (edition,) = report.editions
    assert received == {email: 1 for email in emails}  # the relay had not kept it
    assert edition.counts == {"sent": 4} and edition.tally.retried == 1


def test_temporary_failures_give_up_after_max_attempts(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 3)
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"max_attempts": 3})
    with FaultySMTPServer(Faults(rcpt_temp={emails[0]: 10})) as server:
        report = run_send(engine, settings, smtp_transport(server.url))
        assert server.handler.refusals[emails[0]] == 3
    (edition,) = report.editions
    ((address, code, reply),) = edition.failures
    assert address == emails[0] and code == 451
    assert reply.startswith("gave up after 3 attempts; last: smtp: ")
    assert "refused the recipient (RCPT): 451" in reply


def test_dkim_signed_digests_verify_as_received(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    add_subscribers(engine, 6)
    rsa, rsa_record = rsa_key()
    ed, ed_record = ed25519_key()
    records = {b"rsa._domainkey.m5.test.": rsa_record, b"ed._domainkey.m5.test.": ed_record}
    signer = DkimSigner("m5.test", [SigningKey("rsa", rsa), SigningKey("ed", ed)])
    settings = settings_for(database_url_of(engine), tmp_path)
    with FaultySMTPServer() as server:
        transport = smtp_transport(server.url)
        parts = dataclasses.replace(parts_for(engine, settings, transport), sign=signer)
        asyncio.run(send_and_close(parts))
        received = list(server.handler.received)
    assert len(received) == 6

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return records[name]

    for _, data in received:  # as received: both signatures, RFC 8463's dual signing
        verifier = dkim.DKIM(data)
        assert verifier.verify(idx=0, dnsfunc=dns) and verifier.verify(idx=1, dnsfunc=dns)


async def send_and_close(parts: SendParts) -> None:
    try:
        await send_due(parts, NOW)
    finally:
        await parts.transport.close()

"""The relay going away (issue 13 item 5): `send` offers the same message again, with
backoff, for `[delivery] relay_outage_grace_seconds`, with one log line per retry, the
edition not paused and no subscriber touched; then stops with one clear line. The real
SMTP test server is stopped, and started again on the same port."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.delivery.relay import RelayDown
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.store import editions as edition_store
from tests.digests import (
    add_subscribers,
    ledger_by_email,
    make_article,
    run_send,
    settings_for,
    store_articles,
)
from tests.servers import free_port
from tests.smtpd import Faults, FaultySMTPServer
from tests.web_support import database_url_of


def transport(port: int) -> SmtpTransport:
    return SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}?starttls=off"), 2, 5)


def relay_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("relay ")]


def test_a_relay_that_stays_away_stops_send_with_one_line_and_touches_nobody(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "m5.send")
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 12)
    port = free_port()  # nothing listens here
    settings = settings_for(
        database_url_of(engine),
        tmp_path,
        delivery={"pause_after": 2, "concurrency": 2, "relay_outage_grace_seconds": 1.5},
    )
    started = time.monotonic()
    with pytest.raises(RelayDown) as stopped:
        run_send(engine, settings, transport(port))
    took = time.monotonic() - started
    message = str(stopped.value)
    assert message.startswith("send: the relay stayed unreachable for more than 1.5 s")
    assert "cannot connect to 127.0.0.1" in message and "\n" not in message
    assert "relay_outage_grace_seconds" in message
    assert 1.5 <= took < 15
    lines = relay_lines(caplog)
    # One line when it went away, then one per retry (probes are one at a time: the two
    # workers do not each log), never more than the backoff allows in the grace.
    assert sum("relay unreachable (" in line for line in lines) == 1
    retries = [line for line in lines if line.startswith("relay still unreachable")]
    assert 1 <= len(retries) <= 4, lines
    with engine.connect() as conn:
        edition = edition_store.list_recent_editions(conn)[0]
    assert (edition.state, edition.pause_cause) == ("sending", "")  # not paused
    assert ledger_by_email(engine) == dict.fromkeys(emails, ("pending", 0))  # nobody touched

    with FaultySMTPServer(port=port) as server:
        again = run_send(engine, settings, transport(port))
        assert server.handler.counts() == dict.fromkeys(emails, 1)
    assert again.editions[0].edition.state == "done"


def test_a_relay_restarted_mid_send_is_ridden_out_nobody_twice_nobody_lost(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "m5.send")
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 150)
    port = free_port()
    settings = settings_for(
        database_url_of(engine),
        tmp_path,
        # pause_after above the connections: the stop may cut the message in flight on
        # each (unknown outcomes, relay-level), but the refused probes of the outage,
        # at least three in its 2 s, must not count.
        delivery={"pause_after": 3, "concurrency": 2, "relay_outage_grace_seconds": 30},
    )
    first = FaultySMTPServer(Faults(delay=0.03), port=port)  # slow: stopped mid-send
    second = FaultySMTPServer(port=port)

    def restart() -> None:
        first.wait_for(20)
        first.controller.stop()
        time.sleep(2.0)  # refused connections meanwhile: longer than a few backoffs
        second.controller.start()

    first.controller.start()
    restarter = threading.Thread(target=restart)
    restarter.start()
    try:
        report = run_send(engine, settings, transport(port))
    finally:
        restarter.join()
        second.controller.stop()
    received = Counter(first.handler.counts()) + Counter(second.handler.counts())
    rows = ledger_by_email(engine)
    assert set(received.values()) == {1}  # nobody twice
    # Nobody lost: each got it, or the relay was stopped after the end of their message
    # and before its reply (an unknown outcome, counted as sent: `unknown_outcome`).
    missing = set(emails) - set(received)
    assert all(rows[email][0] == "unknown" for email in missing) and len(missing) <= 2, {
        e: rows[e] for e in missing
    }
    assert {state for state, _ in rows.values()} <= {"sent", "unknown"}
    # The outage cost no attempt: only a message in flight past RCPT when the relay
    # stopped (one per connection) was tried again.
    tried = Counter(attempts for _, attempts in rows.values())
    assert set(tried) <= {1, 2} and tried[2] <= 2, tried
    (edition,) = report.editions
    assert edition.edition.state == "done" and not edition.paused
    lines = relay_lines(caplog)
    assert any(line.startswith("relay unreachable (") for line in lines)
    assert any(line.startswith("relay reachable again after") for line in lines)

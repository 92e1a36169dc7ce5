"""A worker's next message travels while its last outcome is committed, and only its
final dot waits for that commit (runner.py, the transport's go-ahead): against a real
SMTP server on loopback, with the ledger's commits slowed or failing on purpose."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.delivery.writer import OutcomeWriter
from m5syndicate.store.deliveries import Outcome
from tests.digests import (
    add_subscribers,
    ledger_by_email,
    make_article,
    run_send,
    settings_for,
    store_articles,
)
from tests.integration.test_ledger_faults import transport
from tests.smtpd import FaultySMTPServer
from tests.web_support import database_url_of

COMMIT_TAKES = 0.25  # seconds: far longer than a message to a server on loopback


def one_connection(engine: Engine, tmp_path: Path, **delivery: Any) -> Any:
    return settings_for(database_url_of(engine), tmp_path, delivery={"concurrency": 1, **delivery})


def test_the_next_message_travels_during_the_commit_and_its_dot_waits(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 4)
    commits: list[tuple[float, list[str]]] = []  # (when it ended, whose outcomes)
    original = OutcomeWriter.write

    def slow_write(writer: OutcomeWriter, outcomes: Sequence[Outcome]) -> list[Outcome]:
        time.sleep(COMMIT_TAKES)
        written = original(writer, outcomes)
        commits.append((time.monotonic(), [o.email for o in outcomes]))
        return written

    monkeypatch.setattr(OutcomeWriter, "write", slow_write)
    with FaultySMTPServer() as server:
        run_send(engine, one_connection(engine, tmp_path), transport(server.url, 1))
        received, events = server.handler.counts(), list(server.handler.events)
    assert received == dict.fromkeys(emails, 1)
    ends = [(when, address) for when, kind, address in events if kind == "END"]
    starts = [when for when, kind, _ in events if kind == "MAIL"]
    committed = {email: when for when, batch in commits for email in batch}
    for index in range(1, len(ends)):
        before = committed[ends[index - 1][1]]
        assert ends[index][0] >= before  # its dot came only after the previous commit
        assert starts[index] < before  # ...while the message itself travelled during it
    assert set(ledger_by_email(engine).values()) == {("sent", 1)}


def test_a_commit_that_fails_keeps_the_waiting_message_from_the_relay(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 3)
    original = OutcomeWriter.write
    calls: list[int] = []

    def first_write_fails(writer: OutcomeWriter, outcomes: Sequence[Outcome]) -> list[Outcome]:
        calls.append(len(outcomes))
        if len(calls) == 1:
            time.sleep(COMMIT_TAKES)  # the second message is at its dot meanwhile
            raise RuntimeError("injected: the ledger refused the outcome")
        return original(writer, outcomes)

    monkeypatch.setattr(OutcomeWriter, "write", first_write_fails)
    settings = one_connection(engine, tmp_path)
    with FaultySMTPServer() as server:
        with pytest.raises(RuntimeError, match="injected"):
            run_send(engine, settings, transport(server.url, 1))
        began = [address for _, kind, address in server.handler.events if kind == "MAIL"]
        assert len(began) == 2  # the second message was under way...
        assert server.handler.counts() == {emails[0]: 1}  # ...and never reached the relay
        # All three went back when the run closed: the first accepted but unrecorded, the
        # others untouched; no attempt counted for any.
        assert set(ledger_by_email(engine).values()) == {("pending", 0)}
        monkeypatch.undo()
        run_send(engine, settings, transport(server.url, 1))
        received = server.handler.counts()
    # The one accepted-but-unrecorded message goes again (at most one per connection).
    assert received == {emails[0]: 2, emails[1]: 1, emails[2]: 1}
    assert set(ledger_by_email(engine).values()) == {("sent", 1)}

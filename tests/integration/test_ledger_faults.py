"""The ledger under the faults of issue 13, against a real SMTP sink on loopback: our
own sender refused, a relay slow to acknowledge, a renewer that fails, a database that
goes away. Each test counts what the sink received: nobody twice, nobody lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.delivery.runner import EditionRun
from m5syndicate.errors import StoreError
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade
from m5syndicate.store.schema import deliveries
from tests.digests import NOW, add_subscribers, make_article, run_send, settings_for, store_articles
from tests.servers import free_port
from tests.smtpd import Faults, FaultySMTPServer
from tests.web_support import database_url_of

SENDER_REJECTED = "553 5.1.8 <bulten@example.org>: Sender address rejected: Domain not found"


def transport(url: str, connections: int = 2, timeout: float = 5, data_timeout: float = 600):
    return SmtpTransport(parse_smtp_url(url), connections, timeout, data_timeout=data_timeout)


def ledger_rows(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.state, deliveries.c.attempts).order_by(deliveries.c.id)
        )
        return [(row.state, row.attempts) for row in rows]


def test_our_sender_refused_pauses_and_suppresses_nobody(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 10)
    settings = settings_for(database_url_of(engine), tmp_path)
    port = free_port()
    url = f"smtp://127.0.0.1:{port}?starttls=off"
    for _ in range(3):  # `run` resumes a paused edition again and again: still nobody
        with FaultySMTPServer(Faults(sender_refused=SENDER_REJECTED), port=port):
            report = run_send(engine, settings, transport(url))
        (edition,) = report.editions
        assert edition.edition.state == "paused"
        assert edition.paused.startswith("sender refused: ") and "5.1.8" in edition.paused
        assert "no subscriber was touched" in edition.paused
        assert ledger_rows(engine) == [("pending", 0)] * 10  # no attempt burned
        with engine.connect() as conn:
            assert subscriber_store.suppressed_among(conn, emails) == set()
    with FaultySMTPServer(port=port) as server:
        again = run_send(engine, settings, transport(url))
        assert server.handler.counts() == dict.fromkeys(emails, 1)
    assert again.editions[0].counts == {"sent": 10}
    assert ledger_rows(engine) == [("sent", 1)] * 10


def test_a_dead_domain_does_not_pause_the_edition(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 10)
    dead = set(emails[:6])  # sorted by domain: six refusals in a row
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"pause_after": 3})
    with FaultySMTPServer(Faults(hard_bounce=dead)) as server:
        report = run_send(engine, settings, transport(server.url, 1))
        received = server.handler.counts()
    (edition,) = report.editions
    assert edition.paused == "" and edition.edition.state == "done"
    assert edition.counts == {"failed": 6, "sent": 4}
    assert set(received) == set(emails) - dead
    with engine.connect() as conn:
        assert subscriber_store.suppressed_among(conn, emails) == dead


def test_a_relay_slow_to_acknowledge_gets_each_message_once(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 6)
    settings = settings_for(database_url_of(engine), tmp_path)
    # Each final reply takes longer than the ordinary timeout: it is waited for.
    with FaultySMTPServer(Faults(delay=0.8)) as server:
        report = run_send(engine, settings, transport(server.url, 3, timeout=0.3, data_timeout=5))
        received = server.handler.counts()
    assert received == dict.fromkeys(emails, 1)
    assert report.editions[0].counts == {"sent": 6}


def test_a_final_reply_that_never_comes_is_an_unknown_outcome(
    engine: Engine, tmp_path: Path
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 3)
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"pause_after": 10})
    with FaultySMTPServer(Faults(delay=2.5)) as server:
        report = run_send(engine, settings, transport(server.url, 3, data_timeout=1))
        again = run_send(engine, settings, transport(server.url, 3, data_timeout=1))
        time.sleep(2)  # let the sink finish its late replies
        received = server.handler.counts()
    (edition,) = report.editions
    assert edition.counts == {"unknown": 3} and edition.tally.unknown == 3
    assert edition.edition.state == "done"
    assert again.editions == []  # counted as sent: never sent again
    assert all(count == 1 for count in received.values()) and set(received) <= set(emails)
    assert ledger_rows(engine) == [("unknown", 1)] * 3


def test_a_claim_released_unsent_costs_no_attempt(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    add_subscribers(engine, 3)
    settings = settings_for(database_url_of(engine), tmp_path)
    with FaultySMTPServer() as server:
        run_send(engine, settings, transport(server.url), limit=1)  # opens the edition
    with engine.begin() as conn:
        edition_id = conn.execute(select(deliveries.c.edition_id)).scalars().first()
        claimed = ledger.claim_batch(
            conn, edition_id, "crashed", NOW, NOW + timedelta(seconds=30), 10
        )
        assert [r.attempts for r in claimed] == [0, 0]
    with engine.begin() as conn:  # the crashed sender's claims are released untried
        ledger.release_worker(conn, edition_id, "crashed")
    assert sorted(ledger_rows(engine)) == [("pending", 0), ("pending", 0), ("sent", 1)]


def test_a_failing_renewer_stops_sending_then_resumes_without_duplicates(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 30)
    calls = Counter[str]()
    original = EditionRun.renew

    def renew_failing_at_first(run: EditionRun, until: Any) -> None:
        calls["renew"] += 1
        if calls["renew"] <= 3:  # a third of a lease apart: the leases run out
            raise RuntimeError("injected: renewal failed")
        original(run, until)

    monkeypatch.setattr(EditionRun, "renew", renew_failing_at_first)
    settings = settings_for(
        database_url_of(engine), tmp_path, delivery={"lease_seconds": 1, "concurrency": 2}
    )
    with FaultySMTPServer(Faults(delay=0.06)) as server:
        report = run_send(engine, settings, transport(server.url, 2))
        received = server.handler.counts()
    assert calls["renew"] >= 3
    assert "starting again with fresh claims" in caplog.text  # the run stopped, then resumed
    assert received == dict.fromkeys(emails, 1)  # 0 duplicates, nobody lost
    (edition,) = report.editions
    assert edition.counts == {"sent": 30}
    assert ledger_rows(engine) == [("sent", 1)] * 30


def test_a_renewer_that_never_recovers_stops_with_one_line_and_loses_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 80)  # more than 1 s of sending

    def renew_never(run: EditionRun, until: Any) -> None:
        raise RuntimeError("injected: renewal failed")

    settings = settings_for(
        database_url_of(engine),
        tmp_path,
        delivery={"lease_seconds": 1, "concurrency": 2},
        database={"outage_grace_seconds": 1},
    )
    with FaultySMTPServer(Faults(delay=0.06)) as server:
        monkeypatch.setattr(EditionRun, "renew", renew_never)
        with pytest.raises(StoreError) as stopped:
            run_send(engine, settings, transport(server.url, 2))
        assert "could not renew the delivery leases" in str(stopped.value)
        assert "\n" not in str(stopped.value)
        monkeypatch.undo()
        time.sleep(1.1)  # the stopped run's leases run out
        run_send(engine, settings, transport(server.url, 2))
        received = server.handler.counts()
    assert received == dict.fromkeys(emails, 1)


def test_a_lease_in_doubt_gives_the_queued_rows_back_and_they_go_later(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal running late (a loaded machine) makes the lease doubtful for a moment:
    the queued recipients met then are not sent, and not left claimed either (our own
    renewer would keep them from every claim, this run's included: the run never
    ended). They go back and are sent with fresh claims, once each."""
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 6)
    doubts = Counter[str]()
    original = EditionRun.lease_holds

    def doubtful_at_first(run: EditionRun) -> bool:
        doubts["asked"] += 1
        return doubts["asked"] > 2 and original(run)

    monkeypatch.setattr(EditionRun, "lease_holds", doubtful_at_first)
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"concurrency": 1})
    with FaultySMTPServer() as server:
        sender = threading.Thread(
            target=run_send, args=(engine, settings, transport(server.url, 1)), daemon=True
        )
        sender.start()
        sender.join(timeout=60)  # before the fix this run never ended
        assert not sender.is_alive(), "the run kept the rows it skipped"
        received = server.handler.counts()
    assert received == dict.fromkeys(emails, 1)
    assert ledger_rows(engine) == [("sent", 1)] * 6


def test_sqlite_locked_for_seconds_mid_send_is_ridden_out(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 40)
    settings = settings_for(database_url_of(engine), tmp_path, delivery={"batch_size": 5})

    def hold_lock() -> None:
        time.sleep(0.3)
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(2.0)
        conn.rollback()
        conn.close()

    locker = threading.Thread(target=hold_lock)
    with FaultySMTPServer(Faults(delay=0.02)) as server:
        locker.start()
        report = run_send(engine, settings, transport(server.url, 2))
        locker.join()
        received = server.handler.counts()
    engine.dispose()
    assert received == dict.fromkeys(emails, 1)
    assert report.editions[0].counts == {"sent": 40}

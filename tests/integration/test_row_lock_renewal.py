"""A real PostgreSQL row lock against lease renewals (issue 13 item 3): another
connection holds `SELECT ... FOR UPDATE` on rows a sender has claimed and queued, for
longer than a lease. Renewals skip locked rows (SKIP LOCKED: waiting is how the renewer
once deadlocked), so the sender must notice that those leases were not renewed and stop
before they end: otherwise a second sender takes the rows when the lock goes, while they
still wait in the first one's queue, and both send them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.delivery.send import SendReport
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.store.schema import deliveries
from tests.digests import NOW, add_subscribers, make_article, run_send, settings_for, store_articles
from tests.smtpd import Faults, FaultySMTPServer

LEASE, SUBSCRIBERS, LOCKED, HELD_FOR = 2, 40, 10, 4.0


def claimed(engine: Engine) -> int:
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.id).where(deliveries.c.state == "sending"))
        return len(rows.all())


def wait_for(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def test_leases_locked_elsewhere_stop_the_sender_before_they_end(
    engine: Engine, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE) are PostgreSQL's")
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, SUBSCRIBERS)
    url = engine.url.render_as_string(hide_password=False)
    settings = settings_for(
        url,
        tmp_path,
        # The first sender claims every row at once: the second only waits for a lease
        # to end, and takes a row the moment it can.
        delivery={"lease_seconds": LEASE, "batch_size": SUBSCRIBERS, "concurrency": 1},
    )
    reports: list[SendReport] = []
    with FaultySMTPServer(Faults(delay=0.25)) as server:
        started = time.monotonic()

        def sender() -> None:
            transport = SmtpTransport(parse_smtp_url(server.url), 1, 5)
            # One clock for both senders, as two machines with synchronised clocks have.
            now = NOW + timedelta(seconds=time.monotonic() - started)
            reports.append(run_send(engine, settings, transport, now=now))

        first = threading.Thread(target=sender)
        first.start()
        wait_for(lambda: claimed(engine) >= SUBSCRIBERS)  # the first sender's, queued
        with engine.connect() as locker, locker.begin():
            # The last rows of its queue: it reaches them only after the lock goes.
            locked = locker.execute(
                select(deliveries.c.id)
                .where(deliveries.c.state == "sending")
                .order_by(deliveries.c.id.desc())
                .limit(LOCKED)
                .with_for_update()
            ).all()
            assert len(locked) == LOCKED
            second = threading.Thread(target=sender)
            second.start()
            time.sleep(HELD_FOR)  # twice the lease
        first.join(60)
        second.join(60)
        received = server.handler.counts()
    assert not first.is_alive() and not second.is_alive()
    twice = sorted(email for email, count in received.items() if count > 1)
    assert twice == []  # no duplicate: the rule allows one only for a crash mid-message
    assert received == Counter(dict.fromkeys(emails, 1))  # nobody lost
    with engine.connect() as conn:
        states = Counter(row.state for row in conn.execute(select(deliveries.c.state)))
    assert states == {"sent": len(emails)}
    assert len(reports) == 2

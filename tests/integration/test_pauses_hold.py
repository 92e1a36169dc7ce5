"""A pause holds (issue 13 item 1's remainder): a guard-rail pause written while a real
send runs (a real SMTP sink) stops it within a batch, and nothing resumes it but a
person; the retries job resumes only what the relay paused."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.bounces.parse import Finding, Reading
from m5syndicate.bounces.record import Recorder
from m5syndicate.delivery import holds
from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.models import Edition
from m5syndicate.runtime import Runtime
from m5syndicate.scheduling.jobs import retries_job
from m5syndicate.scheduling.service import SendBoard
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.store.schema import deliveries
from tests.digests import (
    NOW,
    SECRET,
    add_subscribers,
    make_article,
    run_send,
    settings_for,
    store_articles,
)
from tests.integration.test_cli import m5
from tests.smtpd import Faults, FaultySMTPServer
from tests.web_support import ADMIN_TOKEN, database_url_of, running_site

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

BATCH, CONCURRENCY = 10, 2


def sent_delivery_ids(engine: Engine, count: int) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.id)
            .where(deliveries.c.state == "sent")
            .order_by(deliveries.c.id)
            .limit(count)
        )
        return [row.id for row in rows]


def attempts_of_unsent(engine: Engine) -> Counter[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.state, deliveries.c.attempts).where(deliveries.c.state != "sent")
        )
        return Counter((row.state, row.attempts) for row in rows)


def test_a_guard_rail_pause_stops_a_running_send_within_a_batch(
    engine: Engine, tmp_path: Path
) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 200)
    settings = settings_for(
        database_url_of(engine),
        tmp_path,
        delivery={"batch_size": BATCH, "concurrency": CONCURRENCY},
        bounces={"pause_after_messages": 20, "pause_hard_rate": 0.05},
    )
    recorder = Recorder(engine, settings.bounces, SECRET)
    paused_at: list[int] = []
    with FaultySMTPServer(Faults(delay=0.01)) as server:

        def bounces_come_back() -> None:
            server.wait_for(30)
            # Five hard bounces of what went out: past 5% of the sent, the guard rail holds.
            findings = tuple(
                Finding("hard", delivery_id=i, status="5.1.1", detail="user unknown")
                for i in sent_delivery_ids(engine, 5)
            )
            tally, _ = recorder.record(Reading("dsn-1", findings), "mailbox", NOW)
            assert tally.paused, tally
            paused_at.append(len(server.handler.received))

        returner = threading.Thread(target=bounces_come_back)
        returner.start()
        transport = SmtpTransport(parse_smtp_url(server.url), CONCURRENCY, 5)
        report = run_send(engine, settings, transport)
        returner.join()
        received = server.handler.counts()

    # After the hold: at most what was queued (a batch and the low-water mark) and in flight.
    assert paused_at, "the guard rail never ran"
    after_the_pause = sum(received.values()) - paused_at[0]
    assert after_the_pause <= BATCH + 3 * CONCURRENCY, after_the_pause
    assert sum(received.values()) < len(emails) / 2
    assert set(received.values()) == {1}  # nobody twice
    (edition,) = report.editions
    assert edition.edition.state == "held" and edition.edition.pause_cause == "guard_rail"
    assert edition.paused.startswith("held (guard_rail): hard bounces ")
    assert edition.counts["sent"] == sum(received.values())
    left = attempts_of_unsent(engine)
    assert left == {("pending", 0): len(emails) - sum(received.values())}  # untouched

    # Nothing resumes it by itself: `send` again (as cron would) sends nobody.
    with FaultySMTPServer() as server:
        again = run_send(engine, settings, SmtpTransport(parse_smtp_url(server.url), 2, 5))
        assert server.handler.counts() == Counter()
    assert [r.edition.state for r in again.editions] == []

    # A person resumes it (`send --resume`): the rest goes out, each once.
    holds.resume_by_slug(engine, edition.edition.slug)
    with FaultySMTPServer() as server:
        resumed = run_send(engine, settings, SmtpTransport(parse_smtp_url(server.url), 2, 5))
        rest = server.handler.counts()
    assert set(rest.values()) == {1} and not set(rest) & set(received)
    assert len(rest) + len(received) == len(emails)  # nobody lost (the bounced had theirs)
    assert resumed.editions[0].edition.state == "done"


def edition_with_ledger(engine: Engine, period_key: str, state: str, cause: str) -> int:
    with engine.begin() as conn:
        draft = Edition("daily", period_key, NOW - timedelta(days=1), NOW)
        draft.articles = edition_store.candidate_articles(
            conn, NOW - timedelta(days=1), NOW, NOW - timedelta(days=7)
        )
        edition_id = edition_store.insert_edition(conn, draft, NOW) or 0
        ledger.populate_deliveries(conn, edition_id, "daily", NOW)
        if state == "paused":
            edition_store.start_sending(conn, edition_id)
            edition_store.pause_for_relay(conn, edition_id, "20 deliveries failed in a row")
        else:
            edition_store.hold_edition(conn, edition_id, cause, f"{cause} said so", ("open",))
    return edition_id


def test_the_retries_job_resumes_relay_pauses_only(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 4)
    relay = edition_with_ledger(engine, "2026-11-26", "paused", "relay")
    guard = edition_with_ledger(engine, "2026-11-27", "held", "guard_rail")
    admin = edition_with_ledger(engine, "2026-11-28", "held", "admin")
    with FaultySMTPServer() as server:
        settings = settings_for(
            database_url_of(engine),
            tmp_path,
            delivery={"transport": "smtp", "smtp_url": server.url},
        )
        runtime = Runtime(settings, clock=lambda: NOW)
        job = retries_job(runtime, asyncio.Event(), SendBoard())
        asyncio.run(job(NOW))
        asyncio.run(runtime.aclose())
        runtime.engine.dispose()
        received = server.handler.counts()
    assert received == dict.fromkeys(emails, 1)  # one edition's worth: the relay's
    with engine.connect() as conn:
        states = {
            i: (e.state, e.pause_cause)
            for i in (relay, guard, admin)
            if (e := edition_store.get_edition(conn, i)) is not None
        }
        left = {i: ledger.edition_counts(conn, i) for i in (guard, admin)}
    assert states == {
        relay: ("done", ""),
        guard: ("held", "guard_rail"),
        admin: ("held", "admin"),
    }
    assert left == {guard: Counter(pending=4), admin: Counter(pending=4)}


def test_status_and_the_api_show_the_cause(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a")])
    add_subscribers(engine, 2)
    relay = edition_with_ledger(engine, "2026-11-26", "paused", "relay")
    guard = edition_with_ledger(engine, "2026-11-27", "held", "guard_rail")
    with running_site(engine, tmp_path) as site:
        listed = httpx.get(f"{site.url}/api/editions", headers=AUTH).json()
        env = {"M5_DATABASE__URL": database_url_of(engine), "M5_SECRET_KEY": SECRET}
        status = m5("status", env=env)
    by_id = {e["id"]: e for e in listed}
    assert by_id[relay]["state"] == "paused" and by_id[relay]["pause_cause"] == "relay"
    assert by_id[relay]["pause_reason"] == "20 deliveries failed in a row"
    assert (by_id[guard]["state"], by_id[guard]["pause_cause"]) == ("held", "guard_rail")
    assert by_id[guard]["pause_reason"] == "guard_rail said so"
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert any("daily-2026-11-27" in ln and "guard_rail said so" in ln for ln in lines)
    assert any("daily-2026-11-26" in ln and " relay " in ln for ln in lines)

"""What the recorder does on a real database: soft-bounce limit and window, the guard
rails that pause an edition, revoked unsubscribe tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Engine

from m5syndicate.bounces.parse import read_mail
from m5syndicate.bounces.record import Recorder
from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.config import Settings
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.schema import subscribers
from tests.bounce_mail import Sent, golden, returned_mails, sent_digests
from tests.digests import NOW, SECRET, settings_for


def recorder(settings: Settings, engine: Engine, **bounces: object) -> Recorder:
    return Recorder(engine, settings.bounces.with_changes(**bounces), SECRET)


def report(settings: Settings, one: Sent, name: str, message_id: str) -> bytes:
    data = golden(name, delivery_signer(settings).token(one.delivery_id), one.email)
    return data.replace(b"Message-ID: <", f"Message-ID: <{message_id}.".encode(), 1)


def suppressed(engine: Engine, email: str) -> bool:
    with engine.connect() as conn:
        return subscriber_store.is_suppressed(conn, email)


def edition_state(engine: Engine, edition_id: int) -> str:
    with engine.connect() as conn:
        edition = edition_store.get_edition(conn, edition_id)
    assert edition is not None
    return edition.state


def test_soft_bounces_suppress_at_the_limit_within_the_window(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    one = sent_digests(engine, settings, 1)[0]
    rec = recorder(settings, engine, soft_limit=3, soft_window_days=30)
    verp = delivery_signer(settings)

    def soft(n: int, days_ago: int) -> None:
        data = report(settings, one, "exchange-dsn-mailbox-full.eml", f"s{n}")
        tally, done = rec.record(read_mail(data, verp), "mailbox", NOW - timedelta(days=days_ago))
        assert done and tally.recorded["soft"] == 1

    soft(1, 40)  # outside the window
    soft(2, 2)
    soft(3, 1)
    assert not suppressed(engine, one.email)
    soft(4, 0)
    assert suppressed(engine, one.email)


def test_a_hard_bounce_rate_past_the_limit_pauses_a_sending_edition(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, 10)
    edition_id = sent[0].edition_id
    with engine.begin() as conn:  # the bounce comes back while the edition still goes out
        assert edition_store.reopen_done(conn, edition_id)
    verp = delivery_signer(settings)
    hard = read_mail(report(settings, sent[0], "postfix-dsn-hard.eml", "h1"), verp)

    patient = recorder(settings, engine, pause_after_messages=11)  # not yet 11 sent
    assert patient.record(hard, "mailbox", NOW)[0].paused == []
    assert edition_state(engine, edition_id) == "sending"

    strict = recorder(settings, engine, pause_after_messages=10, pause_hard_rate=0.05)
    again = read_mail(report(settings, sent[1], "postfix-dsn-hard.eml", "h2"), verp)
    tally, _ = strict.record(again, "mailbox", NOW)
    assert tally.paused == ["daily 2026-11-28: hard bounces 20.0% of 10 sent (limit 5.0%)"]
    assert edition_state(engine, edition_id) == "held"  # no sender or job takes it up again
    with engine.connect() as conn:
        held = edition_store.get_edition(conn, edition_id)
    assert held is not None and held.pause_cause == "guard_rail"
    assert held.pause_reason.startswith("hard bounces 20.0% of 10 sent (limit 5.0%)")
    assert "m5syndicate send --resume daily-2026-11-28" in held.pause_reason


def test_one_complaint_in_ten_passes_the_complaint_limit(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, 10)
    with engine.begin() as conn:
        assert edition_store.reopen_done(conn, sent[0].edition_id)
    data = report(settings, sent[3], "yahoo-arf-complaint.eml", "c1")
    rec = recorder(settings, engine, pause_after_messages=10, pause_hard_rate=1.0)
    tally, _ = rec.record(read_mail(data, delivery_signer(settings)), "mailbox", NOW)
    assert tally.paused and "complaints 10.00%" in tally.paused[0]
    assert suppressed(engine, sent[3].email)


def test_a_revoked_unsubscribe_token_is_kept_not_acted_on(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, 5)
    data = returned_mails(settings, sent)["unsubscribe-mail.eml"]
    with engine.begin() as conn:  # every link sent so far revoked
        conn.execute(update(subscribers).values(token_version=subscribers.c.token_version + 1))
    tally, done = recorder(settings, engine).record(
        read_mail(data, delivery_signer(settings)), "mailbox", NOW
    )
    assert not done and tally.unmatched == 1

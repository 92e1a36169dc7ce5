"""Editions on both databases: frozen, unique per period, and what each subscriber gets."""

from __future__ import annotations

import dataclasses
import email
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

from sqlalchemy.engine import Engine

from m5syndicate.collect.clean import content_hash
from m5syndicate.config import load_settings
from m5syndicate.digest.editions import editions_to_send, period_key
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.store import deliveries as ledger
from tests.digests import (
    BREAKING,
    DEFENCE_NEWS,
    NAVAL,
    NOW,
    add_subscribers,
    make_article,
    run_send,
    settings_for,
    store_articles,
)

NEWSLETTER = load_settings(path=None, env={}).newsletter
TZ = "Europe/Istanbul"


def test_period_keys_follow_the_site_zone() -> None:
    # 03:30 UTC is 06:30 in Istanbul: before the 07:00 run, so still yesterday's edition.
    early = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)
    assert period_key("daily", early, NEWSLETTER, TZ) == "2026-11-27"
    assert period_key("daily", NOW, NEWSLETTER, TZ) == "2026-11-28"
    # 23:30 UTC on the 27th is 02:30 on the 28th in Istanbul: still before that day's run.
    assert period_key("daily", datetime(2026, 11, 27, 23, 30, tzinfo=UTC), NEWSLETTER, TZ) == (
        "2026-11-27"
    )
    # Weekly on Monday: Saturday the 28th belongs to the week that began Monday the 23rd.
    assert period_key("weekly", NOW, NEWSLETTER, TZ) == "2026-W48"
    monday_early = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 06:00 local, before 07:00
    assert period_key("weekly", monday_early, NEWSLETTER, TZ) == "2026-W48"
    assert period_key("weekly", monday_early + timedelta(hours=2), NEWSLETTER, TZ) == "2026-W49"


def test_edition_is_frozen_once_per_period(engine: Engine) -> None:
    store_articles(engine, [make_article("a", hours_ago=3), make_article("b", hours_ago=30)])
    add_subscribers(engine, 1)
    first = editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ)
    assert [e.slug for e in first] == ["daily-2026-11-28"]
    assert [a.guid for a in first[0].articles] == ["guid-a"]  # the first one: last 24 h
    # A new article later in the same period does not make a second edition or change it.
    store_articles(engine, [make_article("c", hours_ago=0.5)], now=NOW + timedelta(hours=1))
    again = editions_to_send(engine, "daily", NOW + timedelta(hours=1), NEWSLETTER, TZ)
    assert [e.id for e in again] == [first[0].id]
    assert [a.guid for a in again[0].articles] == ["guid-a"]


def test_next_edition_starts_where_the_last_ended(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a", hours_ago=3)])
    add_subscribers(engine, 1)
    settings = settings_for(str(engine.url.render_as_string(False)), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    tomorrow = NOW + timedelta(days=1)
    store_articles(engine, [make_article("b", hours_ago=-5)], now=tomorrow)  # after NOW
    (edition,) = editions_to_send(engine, "daily", tomorrow, NEWSLETTER, TZ)
    assert edition.period_key == "2026-11-29" and edition.since == NOW
    assert [a.guid for a in edition.articles] == ["guid-b"]


def test_no_edition_without_subscribers_on_the_cadence(engine: Engine) -> None:
    store_articles(engine, [make_article("a")])
    add_subscribers(engine, 1, cadence="weekly")
    assert editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ) == []


def test_backfilled_articles_are_never_offered(engine: Engine) -> None:
    store_articles(engine, [make_article("old", offered=False)])
    add_subscribers(engine, 1)
    assert editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ) == []


def test_instant_editions_carry_only_breaking_categories(engine: Engine) -> None:
    store_articles(
        engine,
        [make_article("news", categories=[NAVAL]), make_article("hot", categories=[BREAKING])],
    )
    add_subscribers(engine, 1, cadence="instant")
    (edition,) = editions_to_send(engine, "instant", NOW, NEWSLETTER, TZ)
    assert [a.guid for a in edition.articles] == ["guid-hot"]


def delivered_to(outbox: Path) -> dict[str, str]:
    """address -> text part of the message it got."""
    found = {}
    for path in sorted((outbox / "new").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        found[str(message["To"])] = body.get_content()
    return found


def test_each_subscriber_gets_their_language_and_categories(engine: Engine, tmp_path: Path) -> None:
    store_articles(
        engine,
        [
            make_article("tr-naval", categories=[NAVAL]),
            make_article("tr-hot", categories=[BREAKING]),
            make_article("en-news", language="en", categories=[DEFENCE_NEWS]),
        ],
    )
    add_subscribers(engine, 1, prefix="all")
    add_subscribers(engine, 1, prefix="naval", categories=["deniz-sistemleri"])
    add_subscribers(engine, 1, prefix="english", language="en")
    add_subscribers(engine, 1, prefix="nothing", categories=["uzay"])
    settings = settings_for(str(engine.url.render_as_string(False)), tmp_path)
    report = run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    got = delivered_to(tmp_path / "outbox")
    assert set(got) == {"all0@m5.test", "naval0@m5.test", "english0@m5.test"}
    assert "Haber tr-naval" in got["all0@m5.test"] and "Haber tr-hot" in got["all0@m5.test"]
    assert "Haber tr-hot" not in got["naval0@m5.test"]
    assert "Haber en-news" in got["english0@m5.test"] and "tr-" not in got["english0@m5.test"]
    (daily,) = report.editions
    assert (daily.tally.sent, daily.tally.skipped) == (3, 1)
    with engine.connect() as conn:
        assert ledger.edition_counts(conn, daily.edition.id or 0)["skipped"] == 1


def test_an_article_reaches_a_subscriber_once_across_cadences(
    engine: Engine, tmp_path: Path
) -> None:
    store_articles(engine, [make_article("hot", categories=[BREAKING]), make_article("calm")])
    add_subscribers(engine, 1, prefix="m", cadence="instant")
    settings = settings_for(str(engine.url.render_as_string(False)), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "instant"), cadences=("instant",))
    # They switch to daily: the daily edition holds both, they get only the new one.
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE subscribers SET cadence = 'daily'")
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"), cadences=("daily",))
    text = delivered_to(tmp_path / "outbox")["m0@m5.test"]
    assert "Haber calm" in text and "Haber hot" not in text


def test_an_edited_article_comes_back_marked_updated(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("story")])
    add_subscribers(engine, 1)
    settings = settings_for(str(engine.url.render_as_string(False)), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "first"))
    tomorrow = NOW + timedelta(days=1)
    edited = make_article("story", body="<p>Düzeltilmiş metin</p>")
    edited = dataclasses.replace(
        edited,
        updated_at=tomorrow - timedelta(hours=1),
        content_hash=content_hash(edited.title, "<p>Düzeltilmiş metin</p>"),
    )
    store_articles(engine, [edited], now=tomorrow)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"), now=tomorrow)
    text = delivered_to(tmp_path / "outbox")["okur0@m5.test"]
    assert "Haber story [Güncellendi]" in text


def test_min_and_max_articles(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article(f"n{i}", hours_ago=1 + i) for i in range(5)])
    add_subscribers(engine, 1)
    add_subscribers(engine, 1, prefix="few", categories=["one-cikan"])
    settings = settings_for(
        str(engine.url.render_as_string(False)),
        tmp_path,
        newsletter={"max_articles": 3, "min_articles": 1},
    )
    store_articles(engine, [make_article("hot", hours_ago=9, categories=[BREAKING])])
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    got = delivered_to(tmp_path / "outbox")
    text = got["okur0@m5.test"]
    assert "Haber n0" in text and "Haber n2" in text and "Haber n3" not in text
    assert "Bu sayıdaki 3 haber daha sitede" in text  # n3, n4 and hot
    assert "Haber hot" in got["few0@m5.test"]
    settings = settings_for(
        str(engine.url.render_as_string(False)), tmp_path, newsletter={"min_articles": 2}
    )
    tomorrow = NOW + timedelta(days=1)
    store_articles(engine, [make_article("lone", hours_ago=-5)], now=tomorrow)
    report = run_send(engine, settings, OutboxTransport(tmp_path / "second"), now=tomorrow)
    (edition,) = report.editions
    assert edition.tally.skipped == 2 and edition.tally.sent == 0
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT last_error FROM deliveries WHERE edition_id = ?"
            if engine.dialect.name == "sqlite"
            else "SELECT last_error FROM deliveries WHERE edition_id = %s",
            (edition.edition.id,),
        ).all()
    reasons = {row[0] for row in rows}
    assert reasons == {
        "only 1 new article(s), fewer than min_articles = 2",
        "nothing new in their language and categories",
    }


def test_resume_only_finishes_frozen_editions_and_freezes_none(engine: Engine) -> None:
    store_articles(engine, [make_article("a", hours_ago=3)])
    add_subscribers(engine, 1)
    assert editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ, freeze_due=False) == []
    (frozen,) = editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ)
    resumed = editions_to_send(engine, "daily", NOW, NEWSLETTER, TZ, freeze_due=False)
    assert [e.id for e in resumed] == [frozen.id]

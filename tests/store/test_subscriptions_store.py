"""Subscription use cases on both databases, on a controlled clock."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.errors import NotFound
from m5syndicate.models import Subscriber
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.csvio import export_subscribers, import_subscribers
from m5syndicate.subscribers.links import make_token
from m5syndicate.subscribers.subscriptions import (
    Consent,
    Preferences,
    add_subscriber,
    change_preferences,
    confirm,
    resubscribe,
    subscribe,
    subscriber_for_token,
    unsubscribe,
)
from tests.digests import DEFENCE_NEWS, make_article, store_articles

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
WEB = Consent("web", "2026-11", "198.51.100.7", "Firefox")
KEY = "s" * 32


def status(engine: Engine, email: str) -> str | None:
    with engine.connect() as conn:
        found = subscriber_store.get_subscriber_by_email(conn, email)
    return found.status if found else None


def test_double_opt_in_sends_at_most_one_mail_per_ten_minutes(engine: Engine) -> None:
    first = subscribe(engine, "Ada@Example.org", Preferences("en"), T0, WEB)
    assert first.status == "added" and first.confirmation is not None
    again = subscribe(engine, "ada@example.org", Preferences("tr"), T0 + timedelta(minutes=9), WEB)
    assert again.confirmation is None  # too soon: no second mail
    later = subscribe(engine, "ada@example.org", Preferences("tr"), T0 + timedelta(minutes=11), WEB)
    assert later.confirmation is not None
    assert confirm(engine, first.confirmation.token, T0, WEB) is None  # replaced by the newer
    done = confirm(engine, later.confirmation.token, T0 + timedelta(minutes=12), WEB)
    assert done is not None and done.language == "tr"
    assert confirm(engine, later.confirmation.token, T0 + timedelta(minutes=13), WEB) is None
    confirmed = subscribe(
        engine, "ADA@example.org", Preferences("en"), T0 + timedelta(hours=1), WEB
    )
    assert confirmed.confirmation is None and status(engine, "ada@example.org") == "confirmed"
    with engine.connect() as conn:
        assert subscriber_store.get_subscriber_by_email(conn, "ada@example.org").language == "tr"  # type: ignore[union-attr]


def test_confirmation_expires_after_72_hours(engine: Engine) -> None:
    outcome = subscribe(engine, "late@example.org", Preferences(), T0, WEB)
    assert outcome.confirmation is not None
    assert (
        confirm(engine, outcome.confirmation.token, T0 + timedelta(hours=72, seconds=1), WEB)
        is None
    )
    assert status(engine, "late@example.org") == "pending"
    assert confirm(engine, outcome.confirmation.token, T0 + timedelta(hours=71), WEB) is not None


def test_suppressed_address_is_never_subscribed_again(engine: Engine) -> None:
    roster.suppress(engine, "gone@example.org", T0, Consent("cli"), "bounced")
    outcome = subscribe(engine, "Gone@example.org", Preferences(), T0, WEB)
    assert outcome.status == "suppressed" and outcome.confirmation is None
    assert status(engine, "gone@example.org") is None


def test_preferences_unsubscribe_resubscribe_leave_a_consent_record(engine: Engine) -> None:
    new_id, _ = add_subscriber(
        engine, Subscriber("p@example.org", status="confirmed"), T0, "cli", "v1"
    )
    assert new_id is not None
    change_preferences(engine, new_id, Preferences("en", "weekly", "text", ("one-cikan",)), T0, WEB)
    assert unsubscribe(engine, new_id, T0, WEB) is True
    assert unsubscribe(engine, new_id, T0, WEB) is False  # idempotent, no second event
    assert resubscribe(engine, new_id, T0, WEB) is True
    record = roster.show(engine, new_id)
    assert [e["kind"] for e in record.events] == [
        "subscribe", "confirm", "change", "unsubscribe", "resubscribe",
    ]  # fmt: skip
    assert json.loads(record.events[2]["detail"])["categories"] == ["one-cikan"]
    assert record.events[3]["ip"] == "198.51.100.7" and record.events[3]["user_agent"] == "Firefox"


def test_link_tokens_are_revoked_by_a_new_token_version(engine: Engine) -> None:
    new_id, _ = add_subscriber(
        engine, Subscriber("v@example.org", status="confirmed"), T0, "cli", ""
    )
    assert new_id is not None
    token = make_token(new_id, 1, "preferences", KEY)
    assert subscriber_for_token(engine, token, "preferences", KEY) is not None
    assert (
        subscriber_for_token(engine, make_token(new_id, 2, "preferences", KEY), "preferences", KEY)
        is None
    )
    assert (
        subscriber_for_token(engine, make_token(999, 1, "preferences", KEY), "preferences", KEY)
        is None
    )
    assert subscriber_for_token(engine, token, "unsubscribe", KEY) is None


def test_forget_erases_everything_but_the_hash(engine: Engine) -> None:
    new_id, _ = add_subscriber(engine, Subscriber("Forget.Me@example.org", name="F"), T0, "cli", "")
    assert roster.forget(engine, "forget.me@EXAMPLE.org", T0, "cli") is True
    out = io.StringIO()
    export_subscribers(engine, out)
    assert "forget" not in out.getvalue().lower()
    with pytest.raises(NotFound):
        roster.show(engine, new_id or 0)
    assert roster.stats(engine)["suppressed"] == 1
    assert subscribe(engine, "forget.me@example.org", Preferences(), T0, WEB).status == "suppressed"


def test_import_twice_changes_nothing_and_export_round_trips(engine: Engine) -> None:
    store_articles(engine, [make_article("a", categories=[DEFENCE_NEWS])])
    roster.suppress(engine, "blocked@example.org", T0, Consent("cli"), "complaint")
    lines = [
        "email,language,cadence,categories,name,confirmed\n",
        *(f"u{i}@example.org,en,weekly,defence-news,User {i},{i % 2 == 0}\n" for i in range(2500)),
        "blocked@example.org,tr,daily,,,true\n",
        "broken,tr,daily,,,true\n",
        "typo@example.org,tr,daily,defense-news,,true\n",
    ]
    first = import_subscribers(engine, lines, T0, consent_version="v1")
    assert (first.added, first.existing, first.suppressed) == (2500, 0, 1)
    assert [line for line, _ in first.errors] == [2503, 2504]
    assert "did you mean defence-news?" in first.errors[1][1]
    stats = roster.stats(engine)
    second = import_subscribers(engine, lines, T0 + timedelta(days=1))
    assert (second.added, second.existing) == (0, 2500) and roster.stats(engine) == stats
    out = io.StringIO()
    assert export_subscribers(engine, out) == 2500
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["email"] == "u0@example.org" and rows[0]["status"] == "confirmed"
    assert rows[1]["status"] == "pending" and rows[1]["categories"] == "defence-news"
    [event] = json.loads(rows[0]["consent_events"])
    assert (event["kind"], event["via"], event["consent_version"]) == ("import", "import", "v1")


def test_list_search_and_remove(engine: Engine) -> None:
    for address in ("ayse@example.org", "john@example.org", "50%_off@example.org"):
        add_subscriber(engine, Subscriber(address, status="confirmed"), T0, "cli", "")
    assert [s.email for s in roster.list_subscribers(engine, search="AYSE")] == ["ayse@example.org"]
    assert [s.email for s in roster.list_subscribers(engine, search="%_")] == [
        "50%_off@example.org"
    ]
    assert roster.remove(engine, "john@example.org", T0, Consent("cli")) is True
    assert [s.email for s in roster.list_subscribers(engine, status="unsubscribed")] == [
        "john@example.org"
    ]
    with pytest.raises(NotFound):
        roster.remove(engine, "nobody@example.org", T0, Consent("cli"))

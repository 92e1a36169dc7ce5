"""Pure checks of the subscription input: addresses, tokens, CSV rows, languages, limits."""

from __future__ import annotations

import pytest

from m5syndicate.errors import InputError
from m5syndicate.subscribers import tokens
from m5syndicate.subscribers.csvio import parse_rows
from m5syndicate.subscribers.links import subscriber_links, verify_token
from m5syndicate.subscribers.subscriptions import (
    Preferences,
    check_preferences,
    clean_text,
    normalize_email,
)
from m5syndicate.web.i18n import accepted_language
from m5syndicate.web.ratelimit import RateLimiter

KEY = "k" * 32


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Reader@Example.ORG ", "Reader@example.org"),
        ("ali@örnek.com.tr", "ali@örnek.com.tr"),  # IDN domain allowed
        ("ali@" + "örnek".encode("idna").decode() + ".com.tr", "ali@örnek.com.tr"),  # one key
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("Postmaster@example.org", "postmaster@example.org"),  # case-insensitive mailbox
    ],
)
def test_valid_addresses_are_normalized(typed: str, stored: str) -> None:
    assert normalize_email(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "a@b.com\r\nBcc: x@y.com",
        "a@b.com\nBcc: x@y.com",
        "=?utf-8?q?a=0D=0ABcc=3A_x=40y.com?=@example.com",
        "x@=?utf-8?b?ZXhhbXBsZS5jb20NCkJjYzogeEB5LmNvbQ==?=",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "no-at-sign",
        "a@localhost",
        "a@b..com",
        "ali.çelik@example.com",  # non-ASCII local part cannot be sent by our SMTP path
        "a\x00@example.com",
        "",
    ],
)
def test_invalid_or_injected_addresses_are_refused(typed: str) -> None:
    with pytest.raises(InputError, match="email"):
        normalize_email(typed)


def test_free_text_is_bounded_and_single_line() -> None:
    assert clean_text("  Ayşe Yılmaz ", "name", 200) == "Ayşe Yılmaz"
    for bad in ("x\r\nBcc: y", "x\x00", "\ud800", "x" * 201):
        with pytest.raises(InputError):
            clean_text(bad, "name", 200)


def test_preferences_accept_only_known_values() -> None:
    prefs = check_preferences(Preferences("en", "weekly", "text", ("one-cikan", "defence-news")))
    assert prefs.categories == ("defence-news", "one-cikan")
    for bad in (
        Preferences(language="de"),
        Preferences(cadence="hourly"),
        Preferences(format="pdf"),
        Preferences(categories=("a b",)),
        Preferences(categories=("x" * 201,)),
        Preferences(categories=tuple(f"c{i}" for i in range(101))),
    ):
        with pytest.raises(InputError):
            check_preferences(bad)


def test_confirm_tokens_are_random_hashed_and_parsed_strictly() -> None:
    token, stored = tokens.new_confirm_token(42)
    other, _ = tokens.new_confirm_token(42)
    assert token != other and token not in stored
    assert tokens.parse_confirm_token(token) == 42
    assert tokens.token_matches(token, stored)
    assert not tokens.token_matches(other, stored)
    assert not tokens.token_matches(token, None)
    for bad in ("42", "42.short", "0." + "a" * 32, token + "x", "-1." + "a" * 32, "x" * 5000):
        assert tokens.parse_confirm_token(bad) is None


def test_link_tokens_carry_purpose_subscriber_and_version() -> None:
    links = subscriber_links(7, 3, "https://news.example.org/", KEY)
    assert links.unsubscribe_url.startswith("https://news.example.org/unsubscribe/")
    unsubscribe = links.unsubscribe_url.rsplit("/", 1)[1]
    preferences = links.preferences_url.rsplit("/", 1)[1]
    assert verify_token(unsubscribe, "unsubscribe", KEY) == (7, 3)
    assert verify_token(preferences, "preferences", KEY) == (7, 3)
    assert verify_token(unsubscribe, "preferences", KEY) is None  # wrong purpose
    assert verify_token(unsubscribe, "unsubscribe", "other" * 8) is None  # wrong key
    tampered = unsubscribe[:-2] + ("AA" if not unsubscribe.endswith("AA") else "BB")
    assert verify_token(tampered, "unsubscribe", KEY) is None
    assert verify_token("", "unsubscribe", KEY) is None
    assert verify_token("x" * 1000, "unsubscribe", KEY) is None


def test_csv_rows_report_line_numbers_and_keep_good_rows() -> None:
    text = (
        "email,language,cadence,categories,name,confirmed\n"
        'a@example.org,en,weekly,"defence-news,one-cikan",A,true\n'
        "\n"
        "bad,tr,daily,,,\n"
        '"b@example.org","tr","daily","","Multi\nLine",no\n'
        "c@example.org,tr,daily,,,maybe\n"
        "d@example.org,tr,daily,,,,extra\n"
        '"a@b.com\r\nBcc: x@y.com",tr,daily,,,\n'
    )
    rows = list(parse_rows(text.splitlines(keepends=True)))
    lines = [(line, row if isinstance(row, str) else row.email) for line, row in rows]
    assert lines[0] == (2, "a@example.org")
    assert lines[1][0] == 4 and "not a valid address" in lines[1][1]
    assert lines[2][0] == 6 and "control characters" in lines[2][1]  # the name spans 2 lines
    assert lines[3] == (7, "confirmed 'maybe': write true or false")
    assert lines[4][0] == 8 and "cells" in lines[4][1]
    assert lines[5][0] == 10 and "not a valid address" in lines[5][1]  # quoted CR LF
    assert len(rows) == 6
    first = rows[0][1]
    assert not isinstance(first, str)
    assert (first.status, first.categories) == ("confirmed", ["defence-news", "one-cikan"])


def test_csv_without_email_header_is_refused() -> None:
    with pytest.raises(InputError, match="header"):
        list(parse_rows(["a@example.org,tr\n"]))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("tr-TR,tr;q=0.9,en;q=0.8", "tr"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE,en;q=0.5,tr;q=0.7", "tr"),
        ("de,fr", "tr"),
        ("", "tr"),
        ("en;q=abc, tr;q=0.1", "tr"),
    ],
)
def test_accept_language_picks_our_best_language(header: str, expected: str) -> None:
    assert accepted_language(header, "tr") == expected


def test_rate_limiter_counts_per_key_in_a_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 600, clock=lambda: now[0])
    assert [limiter.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8")
    now[0] = 601
    assert limiter.allow("1.2.3.4")

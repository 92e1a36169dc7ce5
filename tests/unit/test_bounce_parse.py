"""The returned-mail parser on golden files in the shapes real servers write."""

from __future__ import annotations

import pytest

from m5syndicate.bounces.parse import read_mail
from m5syndicate.bounces.verp import DeliverySigner
from tests.bounce_mail import golden

KEY = "unit-test-secret-key-for-bounces-0123456789"
VERP = DeliverySigner(KEY, "bounces+{token}@m5.test")
TOKEN = VERP.token(4711)
RCPT = "okur7@example.net"

# file -> (kinds found, status of the first, whether the delivery is named)
EXPECTED = {
    "postfix-dsn-hard.eml": (["hard"], "5.1.1", True),
    "gmail-dsn-headers-only.eml": (["hard"], "5.1.1", True),
    "exchange-dsn-mailbox-full.eml": (["soft"], "5.2.2", True),
    "exim-hard.eml": (["hard"], "5.0.0", False),
    "yahoo-arf-complaint.eml": (["complaint"], "abuse", True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_bounces_and_complaints(name: str) -> None:
    kinds, status, named = EXPECTED[name]
    reading = read_mail(golden(name, TOKEN, RCPT), VERP)
    assert [f.kind for f in reading.findings] == kinds, reading
    first = reading.findings[0]
    assert first.status == status
    assert first.delivery_id == (4711 if named else None)
    if name != "yahoo-arf-complaint.eml":  # Yahoo redacts the complainer's address
        assert first.address == RCPT
    assert not reading.ignored and not reading.unreadable
    assert reading.key.startswith("<")


@pytest.mark.parametrize(
    ("name", "why"),
    [("auto-reply.eml", "auto-reply"), ("postfix-dsn-delayed.eml", "no failure")],
)
def test_auto_replies_and_delays_are_not_bounces(name: str, why: str) -> None:
    reading = read_mail(golden(name, TOKEN, RCPT), VERP)
    assert reading.findings == ()
    assert why in reading.ignored
    assert not reading.unreadable


def test_a_mail_to_the_unsubscribe_address_carries_its_token() -> None:
    reading = read_mail(
        golden("unsubscribe-mail.eml", rcpt=RCPT, unsubscribe="WzMsMV0.abc-_x"), VERP
    )
    assert [(f.kind, f.token) for f in reading.findings] == [("unsubscribe", "WzMsMV0.abc-_x")]


def test_a_bounce_naming_nobody_is_unreadable_not_ignored() -> None:
    reading = read_mail(golden("unreadable-bounce.eml"), VERP)
    assert reading.findings == () and "names no failed recipient" in reading.unreadable


def test_garbage_is_unreadable_and_never_raises() -> None:
    reading = read_mail(b"\xff\xfe\x00 not a mail at all", VERP)
    assert reading.findings == ()
    assert reading.unreadable or reading.ignored
    assert len(reading.key) == 64  # no Message-ID: its hash


def test_tokens_are_signed_and_survive_lowercasing() -> None:
    assert VERP.verify(TOKEN) == 4711
    assert VERP.verify(TOKEN.upper()) == 4711
    assert VERP.verify(f"4712-{TOKEN.split('-')[1]}") is None  # another id, same mac
    assert (
        DeliverySigner("another-secret-key-of-enough-length-0123", "x{token}@y").verify(TOKEN)
        is None
    )
    assert VERP.envelope_sender(4711) == f"bounces+{TOKEN}@m5.test"
    assert VERP.find(f"X-M5-Delivery: {TOKEN}\nbounces+{TOKEN}@m5.test 12-0000000000000000") == [
        4711
    ]

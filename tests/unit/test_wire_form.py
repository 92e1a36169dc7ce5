"""The wire form a digest is built with (dot-stuffed once per variant, per message only
the personal lines) is exactly what aiosmtplib's data() would make of the message:
its own line-ending normalisation and dot-stuffing are the reference."""

from __future__ import annotations

from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given, settings
from hypothesis import strategies as st

from m5syndicate.mail.message import (
    Envelope,
    HeaderBlock,
    assemble_wire,
    dot_stuff,
    prepare_body,
)
from m5syndicate.mail.smtp import envelope_address, wire_form

SLOTS = ("@@U@@", "@@P@@")
VALUES = {"@@U@@": "https://m5.test/u/.tok", "@@P@@": ".starts-with-a-dot"}


def reference(data: bytes) -> bytes:
    """What aiosmtplib's execute_data_command writes before the final dot."""
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data))


# Lines that start with dots, end without a newline, hold slots, run past 76 columns.
line = st.sampled_from(
    [".", "..", ".x", "a", "", " .", "@@U@@", ".@@P@@", "@@U@@.", "=", "ç" * 90, "." * 80]
)
text = st.lists(line, max_size=12).map("\n".join) | st.lists(line, max_size=12).map(
    lambda lines: "\n".join(lines) + "\n"
)


@settings(max_examples=300, deadline=None)
@given(text, st.none() | text)
def test_prepared_body_wire_form_is_aiosmtplibs(plain: str, html: str | None) -> None:
    html = None if html is None else f'<a href="@@U@@">x</a>\n{html}'
    block = HeaderBlock(b"From: a@m5.test\r\nSubject: s\r\n")
    data, stuffed = assemble_wire(
        block, "okur@m5.test", "<1@m5.test>", [], prepare_body(plain, html, SLOTS), VALUES
    )
    size, wire = wire_form(Envelope("a@m5.test", ("okur@m5.test",), data, stuffed))
    assert wire == reference(data)
    assert size == len(normalize_message_line_endings(data))


def test_a_signed_envelope_keeps_its_wire_form() -> None:
    body = prepare_body(".first\n@@U@@\n.last\n", None, SLOTS)
    data, stuffed = assemble_wire(
        HeaderBlock(b"From: a@m5.test\r\n"), "b@m5.test", "<1@x>", [], body, VALUES
    )
    envelope = Envelope("a@m5.test", ("b@m5.test",), data, stuffed)
    signed = envelope.signed_by(lambda message: b"DKIM-Signature: v=1;\r\n b=.x\r\n" + message)
    assert signed.stuffed is not None
    assert wire_form(signed)[1] == reference(signed.data)


def test_a_signer_that_rewrites_drops_the_wire_form() -> None:
    envelope = Envelope("a@m5.test", ("b@m5.test",), b"A: b\r\n\r\n.x\r\n", b"A: b\r\n\r\n..x\r\n")
    rewritten = envelope.signed_by(lambda message: message.replace(b"A", b"B"))
    assert rewritten.stuffed is None
    assert wire_form(rewritten)[1] == reference(rewritten.data)


def test_other_mail_is_normalised_and_stuffed_by_the_transport() -> None:
    envelope = Envelope("a@m5.test", ("b@m5.test",), b"A: b\n\n.x\r.y")
    assert wire_form(envelope) == (len(b"A: b\r\n\r\n.x\r\n.y\r\n"), b"A: b\r\n\r\n..x\r\n..y\r\n")


def test_dot_stuff_only_doubles_dots_that_start_a_line() -> None:
    assert dot_stuff(b".a\r\nb.\r\n.\r\n") == b"..a\r\nb.\r\n..\r\n"
    assert dot_stuff(b".a\r\n", at_line_start=False) == b".a\r\n"


def test_envelope_addresses_are_quoted_like_aiosmtplib() -> None:
    assert envelope_address("bounces+12-ab@m5.test") == b"<bounces+12-ab@m5.test>"
    assert envelope_address("Okur <okur@m5.test>") == b"<okur@m5.test>"

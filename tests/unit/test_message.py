"""Hand-built MIME parses back with Python's email package, header by header."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from m5syndicate.errors import InputError
from m5syndicate.mail.message import Envelope, build_message
from m5syndicate.mail.transport import OutboxTransport

DATE = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def sample(**changes: str) -> bytes:
    values = {
        "sender": "M5 Dergi Bülten <bulten@m5.test>",
        "to": "okur@örnek.test",
        "subject": "Günün özeti: İstanbul'da savunma fuarı",
        "text": "Merhaba,\n" + "uzun satır " * 200 + "\nhttps://m5.test/u/abc\n",
        "html": "<p>Merhaba <b>İstanbul</b></p>" + "<p>x</p>" * 50,
    }
    values.update(changes)
    return build_message(
        **values,
        message_id="<1@m5.test>",
        date=DATE,
        extra_headers=[
            ("List-Unsubscribe", "<https://m5.test/unsubscribe/abc>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ],
    )


def test_message_parses_back_exactly() -> None:
    data = sample()
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == "Günün özeti: İstanbul'da savunma fuarı"
    assert parsed["From"].addresses[0].display_name == "M5 Dergi Bülten"
    assert parsed["To"] == "okur@xn--rnek-4qa.test"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = (part for part in parsed.iter_parts())
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert text.get_content().replace("\r\n", "\n").startswith("Merhaba,\nuzun satır")
    assert "<b>İstanbul</b>" in html.get_content()


def test_message_is_7bit_with_short_crlf_lines() -> None:
    data = sample()
    assert data.isascii()
    _head, _, body = data.partition(b"\r\n\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) < 998
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable
    assert b"\n" not in data.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    "field",
    ["to", "subject", "sender"],
)
def test_line_breaks_in_headers_are_refused(field: str) -> None:
    with pytest.raises(InputError):
        sample(**{field: "a@b.test\r\nBcc: x@y.test"})


def test_outbox_writes_whole_files_in_new(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    data = sample()
    reply = asyncio.run(outbox.send(Envelope("b@m5.test", ("o@m5.test",), data)))
    assert reply.startswith("250 ")
    (written,) = outbox.messages()
    assert written.read_bytes() == data
    assert not list((tmp_path / "outbox" / "tmp").iterdir())

"""Each digest names its delivery: a VERP envelope sender and an X-M5-Delivery header,
both signed, and what comes back maps to the delivery again."""

from __future__ import annotations

import email
from datetime import UTC, datetime

import pytest

from m5syndicate.bounces.parse import read_mail
from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.config import load_settings
from m5syndicate.digest.compose import Composer
from m5syndicate.digest.editions import select_articles
from m5syndicate.digest.templates import email_environment
from m5syndicate.errors import ConfigError
from m5syndicate.subscribers.links import LinkSigner
from tests.bounce_mail import golden
from tests.digests import SECRET
from tests.unit.test_render import SETTINGS, edition, recipient


def composed(return_path: str = "") -> tuple[str, bytes]:
    s = SETTINGS.with_changes(
        web=SETTINGS.web.with_changes(secret_key=SECRET),
        bounces=SETTINGS.bounces.with_changes(return_path=return_path),
    )
    case, who = edition(), recipient()
    composer = Composer(
        email_environment(),
        case,
        s.site,
        s.newsletter,
        LinkSigner(s.site.public_url, SECRET),
        datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        verp=delivery_signer(s),
    )
    selection = select_articles(case, who, {}, s.newsletter)
    assert not isinstance(selection, str)
    envelope, _ = composer.compose(who, selection)
    return envelope.sender, envelope.data


def test_the_envelope_sender_and_a_header_name_the_delivery() -> None:
    sender, data = composed()
    signer = delivery_signer(
        SETTINGS.with_changes(web=SETTINGS.web.with_changes(secret_key=SECRET))
    )
    token = signer.token(41)  # the recipient's delivery id
    domain = email.utils.parseaddr(SETTINGS.newsletter.sender)[1].rpartition("@")[2]
    assert sender == f"bounces+{token}@{domain}"
    assert email.message_from_bytes(data)["X-M5-Delivery"] == token


def test_a_configured_return_path_is_used() -> None:
    sender, _ = composed("m5-bounce-{token}@bounce.m5.test")
    assert sender.startswith("m5-bounce-41-") and sender.endswith("@bounce.m5.test")


def test_a_bounce_quoting_only_the_headers_maps_back() -> None:
    _, data = composed()
    headers = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    token = email.message_from_string(headers)["X-M5-Delivery"]
    settings = SETTINGS.with_changes(web=SETTINGS.web.with_changes(secret_key=SECRET))
    bounce = golden("gmail-dsn-headers-only.eml", token, "okur@m5.test")
    assert [f.delivery_id for f in read_mail(bounce, delivery_signer(settings)).findings] == [41]


@pytest.mark.parametrize("value", ["bounces@m5.test", "bounces+{token}"])
def test_a_return_path_without_slot_or_domain_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"M5_BOUNCES__RETURN_PATH: .*needs a \{token\} slot"):
        load_settings(None, env={"M5_BOUNCES__RETURN_PATH": value})

"""With [dkim] set, every kind of mail the product sends verifies with dkimpy as it lands:
the account mails from the web flow (confirm, welcome, goodbye) and the digests, in both
languages; account mails carry Auto-Submitted, the welcome mail its List-Id."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import dkim
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import Engine

from m5syndicate.config import DkimSettings
from m5syndicate.digest.notices import Notices
from m5syndicate.digest.templates import email_environment
from m5syndicate.mail.dkim import load_signer
from m5syndicate.models import Subscriber
from m5syndicate.subscribers.subscriptions import Confirmation
from tests.digests import POSTAL_ADDRESS, settings_for
from tests.integration.test_web_subscribe import csrf_of, subscribe
from tests.unit.test_links_and_dkim import ed25519_key, rsa_key
from tests.web_support import running_site

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def key_file(folder: Path, make_key: object) -> tuple[Path, bytes]:
    key, record = make_key()  # type: ignore[operator]
    pem = folder / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem, record


def verifies(data: bytes, record: bytes) -> bool:
    return bool(dkim.verify(data, dnsfunc=lambda name, timeout=5: record))


@pytest.mark.parametrize("make_key", [rsa_key, ed25519_key], ids=["rsa-2048", "ed25519"])
def test_web_flow_mails_are_signed(sqlite_engine: Engine, tmp_path: Path, make_key: object) -> None:
    pem, record = key_file(tmp_path, make_key)
    dkim_env = {
        "M5_DKIM__DOMAIN": "example.org",
        "M5_DKIM__SELECTOR": "mail",
        "M5_DKIM__PRIVATE_KEY_FILE": str(pem),
    }
    with running_site(sqlite_engine, tmp_path, **dkim_env) as site, httpx.Client() as client:
        assert subscribe(client, site, "reader@example.net").status_code == 200
        [confirm] = site.wait_for_mails(1)
        link = site.link_in(confirm, "/confirm/")
        page = client.get(link)
        assert client.post(link, data={"csrf_token": csrf_of(page)}).status_code == 200
        welcome = site.wait_for_mails(2)[1]
        unsubscribe = site.link_in(welcome, "/unsubscribe/")
        assert client.get(unsubscribe).status_code == 200  # the page's button, as a person
        gone = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert gone.status_code == 200
        assert len(site.wait_for_mails(3)) == 3
        files = sorted(site.outbox.messages(), key=lambda path: path.stat().st_mtime_ns)
        landed = [path.read_bytes() for path in files]
    for data in landed:
        assert verifies(data, record), data[:400]
        assert b"Auto-Submitted: auto-generated" in data
    assert b"List-Id: <weekly.digest.example.org>" in landed[1]


@pytest.mark.parametrize("language", ["tr", "en"])
def test_each_notice_kind_is_signed_and_styled(tmp_path: Path, language: str) -> None:
    pem, record = key_file(tmp_path, ed25519_key)
    settings = settings_for(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    notices = Notices(
        email_environment(""),
        settings,
        load_signer(DkimSettings(domain="example.org", selector="mail", private_key_file=str(pem))),
    )
    reader = Subscriber("okur@example.net", language, "daily", id=7, status="confirmed")
    mails = {
        "confirm": notices.confirmation(Confirmation(7, reader.email, language, "7.tok"), NOW),
        "welcome": notices.account("welcome", reader, NOW),
        "goodbye": notices.account("goodbye", reader, NOW),
    }
    for kind, envelope in mails.items():
        assert verifies(envelope.data, record), kind
        assert b"c=relaxed/relaxed;" in envelope.data
        parsed = message_from_bytes(envelope.data, policy=policy.default)
        assert parsed["Auto-Submitted"] == "auto-generated"
        assert str(parsed["Message-ID"]).endswith("@example.org>"), kind  # the From domain
        for part in ("plain", "html"):
            body = parsed.get_body((part,))
            assert body is not None and POSTAL_ADDRESS in body.get_content(), (kind, part)
        html = parsed.get_body(("html",))
        assert html is not None and 'class="notice"' in html.get_content()
        assert "style=" in html.get_content().split('class="notice"', 1)[1][:200]  # inlined
    assert mails["welcome"].data.count(b"List-Id: <daily.digest.example.org>") == 1
    welcome = message_from_bytes(mails["welcome"].data, policy=policy.default)
    https, mailto = str(welcome["List-Unsubscribe"]).split(", ")
    token = https.strip("<>").rsplit("/", 1)[1]
    assert mailto == f"<mailto:unsubscribe+{token}@example.org>"
    for kind in ("confirm", "goodbye"):  # not list mail: nothing to unsubscribe from
        assert b"List-Unsubscribe" not in mails[kind].data.split(b"\r\n\r\n", 1)[0]

"""Signed links, and DKIM signatures verified offline by dkimpy with a stub DNS."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.canonicalization import Relaxed
from itsdangerous import URLSafeSerializer

from m5syndicate.config import DkimSettings
from m5syndicate.errors import ConfigError
from m5syndicate.mail.dkim import OVERSIGNED, DkimSigner, SigningKey, load_signer, relaxed_body
from m5syndicate.subscribers.links import (
    PREFERENCES,
    UNSUBSCRIBE,
    LinkSigner,
    require_secret_key,
    subscriber_links,
    verify_token,
)
from tests.unit.test_render import CASES

SECRET = "s3cret"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_links_round_trip_for_their_purpose_only() -> None:
    links = subscriber_links(42, 7, "https://m5.test/", SECRET)
    assert links.unsubscribe_url.startswith("https://m5.test/unsubscribe/")
    assert links.preferences_url.startswith("https://m5.test/preferences/")
    unsubscribe, preferences = token_of(links.unsubscribe_url), token_of(links.preferences_url)
    assert verify_token(unsubscribe, UNSUBSCRIBE, SECRET) == (42, 7)
    assert verify_token(preferences, PREFERENCES, SECRET) == (42, 7)
    assert verify_token(unsubscribe, PREFERENCES, SECRET) is None  # wrong purpose
    assert verify_token(unsubscribe, UNSUBSCRIBE, "another key") is None
    assert verify_token(unsubscribe[:-2] + "xx", UNSUBSCRIBE, SECRET) is None
    assert verify_token("garbage", UNSUBSCRIBE, SECRET) is None
    assert "=" not in unsubscribe + preferences  # safe inside quoted-printable


def test_missing_secret_key_is_a_config_error_saying_how() -> None:
    with pytest.raises(ConfigError, match="M5_SECRET_KEY is not set"):
        require_secret_key("")


def rsa_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def ed25519_key() -> tuple[ed25519.Ed25519PrivateKey, bytes]:
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return key, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)


@pytest.mark.parametrize("make_key", [rsa_key, ed25519_key], ids=["rsa-2048", "ed25519"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_signature_verifies_offline(make_key: object, case: str) -> None:
    key, record = make_key()  # type: ignore[operator]
    signed = DkimSigner("m5.test", [SigningKey("mail", key)]).sign(CASES[case]())

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.m5.test."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    signed_names = re.search(r"h=([^;]+);", header.replace("\r\n ", " "))
    assert signed_names is not None
    names = signed_names.group(1).split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(names)
    # Any change to a signed header or the body breaks it.
    tampered = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X-A: b")
    assert not dkim.verify(tampered, dnsfunc=dns)
    assert not dkim.verify(signed.replace(b"Haber", b"Habar", 1), dnsfunc=dns)


def test_signer_is_loaded_from_config(tmp_path: Path) -> None:
    key, _ = ed25519_key()
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert load_signer(DkimSettings()) is None
    signer = load_signer(DkimSettings(domain="m5.test", selector="mail", private_key_file=str(pem)))
    assert isinstance(signer, DkimSigner)
    assert [(k.selector, k.algorithm) for k in signer.keys] == [("mail", "ed25519-sha256")]
    with pytest.raises(ConfigError, match="cannot read"):
        load_signer(
            DkimSettings(
                domain="m5.test", selector="mail", private_key_file=str(tmp_path / "absent.pem")
            )
        )
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem.write_bytes(
        small.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="2048 bits or more"):
        load_signer(DkimSettings(domain="m5.test", selector="mail", private_key_file=str(pem)))


def test_fast_tokens_are_exactly_itsdangerous_tokens() -> None:
    for subscriber_id, version in [(1, 1), (42, 7), (123456789, 2)]:
        for purpose in (UNSUBSCRIBE, PREFERENCES):
            ours = LinkSigner("https://m5.test", SECRET).token(subscriber_id, version, purpose)
            theirs = URLSafeSerializer(SECRET, salt=purpose).dumps([subscriber_id, version])
            assert ours == theirs


def signed_for_dns(case: str) -> tuple[bytes, object]:
    key, record = ed25519_key()
    signed = DkimSigner("m5.test", [SigningKey("mail", key)]).sign(CASES[case]())
    return signed, lambda name, timeout=5: record


def h_tag(signed: bytes) -> list[str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n ", " ")
    found = re.search(r"h=([^;]+);", header)
    assert found is not None
    return found.group(1).split(":")


@pytest.mark.parametrize("case", sorted(CASES))
def test_relaxed_relaxed_survives_what_relays_do(case: str) -> None:
    signed, dns = signed_for_dns(case)
    assert b"c=relaxed/relaxed;" in signed
    # A relay adding a trailing space to a header line, re-folding a header, or
    # padding a body line: all still verify.
    spaced = signed.replace(b"\r\nList-Id: <", b"\r\nList-Id:   <", 1).replace(
        b"List-Unsubscribe=One-Click\r\n", b"List-Unsubscribe=One-Click \r\n", 1
    )
    assert spaced != signed and dkim.verify(spaced, dnsfunc=dns)
    folded = signed.replace(b"\r\nDate: ", b"\r\nDate:\r\n\t", 1)
    assert dkim.verify(folded, dnsfunc=dns)
    head, body = signed.split(b"\r\n\r\n", 1)
    padded = head + b"\r\n\r\n" + body.replace(b"\r\n", b"  \r\n", 3) + b"\r\n\r\n"
    assert dkim.verify(padded, dnsfunc=dns)


@pytest.mark.parametrize("case", sorted(CASES))
def test_oversigned_headers_cannot_be_added(case: str) -> None:
    signed, dns = signed_for_dns(case)
    names = h_tag(signed)
    head = signed.split(b"\r\n\r\n", 1)[0].decode().lower()
    for name in OVERSIGNED:
        present = len(re.findall(rf"^{name}:", head, re.MULTILINE))
        assert names.count(name) == present + 1, name
    for extra in (
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        b"From: someone@else.test\r\n",
        b"List-Unsubscribe: <https://evil.test/u>\r\n",
        b"Subject: another subject\r\n",
    ):
        assert not dkim.verify(extra + signed, dnsfunc=dns), extra
    # Not oversigned, so a receiver's own trace headers do not break it.
    assert dkim.verify(b"Received: from relay.test\r\n" + signed, dnsfunc=dns)


def test_a_mail_without_list_headers_may_not_gain_them() -> None:
    key, record = ed25519_key()
    plain = (
        b"From: a@m5.test\r\nTo: b@example.net\r\nSubject: hi\r\n"
        b"Date: Sat, 28 Nov 2026 07:00:00 +0000\r\nMessage-ID: <1@m5.test>\r\n\r\nbody\r\n"
    )
    signed = DkimSigner("m5.test", [SigningKey("mail", key)]).sign(plain)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    added = b"List-Unsubscribe: <https://evil.test/u>\r\n" + signed
    assert not dkim.verify(added, dnsfunc=dns)


@pytest.mark.parametrize(
    "body",
    [
        b"plain line\r\n",
        b"two  spaces and\ta tab\r\n \t \r\ntrailing \t\r\n\r\n\r\n",
        b"no final line end  ",
        b"\r\n\r\n",
        b"",
        b"  leading\r\n\tindent\r\n",
    ],
)
def test_relaxed_body_is_rfc_6376_as_dkimpy_reads_it(body: bytes) -> None:
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)

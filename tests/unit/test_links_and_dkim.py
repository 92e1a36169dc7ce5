"""Signed links, and DKIM signatures verified offline by dkimpy with a stub DNS."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from itsdangerous import URLSafeSerializer

from m5syndicate.config import DkimSettings
from m5syndicate.errors import ConfigError
from m5syndicate.mail.dkim import DkimSigner, SigningKey, load_signer
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
    signer = load_signer(DkimSettings("m5.test", "mail", str(pem)))
    assert isinstance(signer, DkimSigner)
    assert [(k.selector, k.algorithm) for k in signer.keys] == [("mail", "ed25519-sha256")]
    with pytest.raises(ConfigError, match="cannot read"):
        load_signer(DkimSettings("m5.test", "mail", str(tmp_path / "absent.pem")))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem.write_bytes(
        small.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="2048 bits or more"):
        load_signer(DkimSettings("m5.test", "mail", str(pem)))


def test_fast_tokens_are_exactly_itsdangerous_tokens() -> None:
    for subscriber_id, version in [(1, 1), (42, 7), (123456789, 2)]:
        for purpose in (UNSUBSCRIBE, PREFERENCES):
            ours = LinkSigner("https://m5.test", SECRET).token(subscriber_id, version, purpose)
            theirs = URLSafeSerializer(SECRET, salt=purpose).dumps([subscriber_id, version])
            assert ours == theirs

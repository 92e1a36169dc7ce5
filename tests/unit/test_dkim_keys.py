"""[dkim] with one key or two (RSA-2048 beside Ed25519, RFC 8463), verified by dkimpy."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from m5syndicate.config import DkimSettings, load_settings
from m5syndicate.errors import ConfigError
from m5syndicate.mail.dkim import PrivateKey, load_signer
from tests.unit.test_links_and_dkim import ed25519_key, rsa_key
from tests.unit.test_render import CASES


def write_pem(path: Path, key: PrivateKey) -> str:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def signatures(signed: bytes) -> list[str]:
    head = signed.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n ", " ")
    return [line for line in head.split("\r\n") if line.startswith("DKIM-Signature:")]


def test_two_keys_give_two_signatures_each_verifying(tmp_path: Path) -> None:
    rsa, rsa_record = rsa_key()
    ed, ed_record = ed25519_key()
    records = {b"rsa2026._domainkey.m5.test.": rsa_record, b"ed2026._domainkey.m5.test.": ed_record}
    settings = DkimSettings(
        domain="m5.test",
        selector="rsa2026",
        private_key_file=write_pem(tmp_path / "rsa.pem", rsa),
        keys=[f"ed2026:{write_pem(tmp_path / 'ed.pem', ed)}"],
    )
    signer = load_signer(settings)
    assert signer is not None
    signed = signer(next(iter(CASES.values()))())
    found = signatures(signed)
    assert len(found) == 2
    assert "a=rsa-sha256; s=rsa2026;" in found[0] and "a=ed25519-sha256; s=ed2026;" in found[1]
    verifier = dkim.DKIM(signed)
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return records[name]

    assert verifier.verify(idx=0, dnsfunc=dns)
    assert verifier.verify(idx=1, dnsfunc=dns)
    assert asked == list(records)
    # Each signature breaks on its own when the body changes.
    tampered = signed.replace(b"Haber", b"Habar", 1)
    for index in (0, 1):
        with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
            dkim.DKIM(tampered).verify(idx=index, dnsfunc=dns)


def test_keys_alone_and_from_the_environment(tmp_path: Path) -> None:
    rsa_path = write_pem(tmp_path / "rsa.pem", rsa_key()[0])
    ed_path = write_pem(tmp_path / "ed.pem", ed25519_key()[0])
    env = {"M5_DKIM__DOMAIN": "m5.test", "M5_DKIM__KEYS": f"a:{rsa_path}, b:{ed_path}"}
    settings = load_settings(None, env=env)
    signer = load_signer(settings.dkim)
    assert signer is not None
    assert [(k.selector, k.algorithm) for k in signer.keys] == [
        ("a", "rsa-sha256"),
        ("b", "ed25519-sha256"),
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (DkimSettings("m5.test"), "no key is; set selector and private_key_file"),
        (DkimSettings("m5.test", "mail"), "selector and private_key_file go together"),
        (DkimSettings("m5.test", keys=["just-a-path.pem"]), "is not SELECTOR:FILE"),
        (DkimSettings("m5.test", keys=["a:x.pem", "a:y.pem"]), "selector a is given twice"),
    ],
    ids=["no-key", "half-a-key", "no-selector", "same-selector"],
)
def test_key_mistakes_are_named(settings: DkimSettings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_signer(settings)


def test_unreadable_second_key_names_its_file(tmp_path: Path) -> None:
    settings = DkimSettings(
        "m5.test",
        "rsa",
        write_pem(tmp_path / "rsa.pem", rsa_key()[0]),
        keys=[f"ed:{tmp_path / 'missing.pem'}"],
    )
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.pem"):
        load_signer(settings)

"""`dkim keygen` as an operator runs it: the key it writes signs mail that dkimpy verifies
against the very DNS record and configuration lines it printed."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner

from m5syndicate.cli import main
from m5syndicate.config import load_settings
from m5syndicate.mail.dkim import load_signer
from tests.unit.test_render import CASES

ZONE_LINE = re.compile(r"^(\S+) IN TXT ((?:\"[^\"]*\" ?)+)$", re.M)


def keygen(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["dkim", "keygen", *args])
    return result.exit_code, result.output


def published(output: str) -> tuple[bytes, bytes]:
    """(name, TXT value) as a resolver hands them to dkimpy: the strings joined."""
    match = ZONE_LINE.search(output)
    assert match, output
    strings = re.findall(r"\"([^\"]*)\"", match.group(2))
    assert all(len(text) <= 255 for text in strings)  # RFC 1035 character-strings
    return match.group(1).encode(), "".join(strings).encode()


@pytest.mark.parametrize(("key_type", "strings"), [("rsa", 2), ("ed25519", 1)])
def test_keygen_key_and_record_verify(tmp_path: Path, key_type: str, strings: int) -> None:
    key_file = tmp_path / "keys" / f"{key_type}.pem"
    code, output = keygen(
        "--domain", "M5.test", "--selector", "s2026", "--type", key_type, "--out", str(key_file)
    )
    assert code == 0, output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    name, record = published(output)
    assert name == b"s2026._domainkey.m5.test."
    assert output.count(f"k={key_type}; p=") == 2  # zone-file form and web-form value
    assert ZONE_LINE.search(output).group(2).count('"') == 2 * strings  # type: ignore[union-attr]
    # The printed [dkim] lines, as the operator pastes them into the config.
    block = output[output.index("[dkim]") :].split("\n\n", 1)[0]
    config = tmp_path / "m5.toml"
    config.write_text(block + "\n", encoding="utf-8")
    signer = load_signer(load_settings(config, env={}).dkim)
    assert signer is not None
    signed = signer(next(iter(CASES.values()))())

    def dns(asked: bytes, timeout: int = 5) -> bytes:
        assert asked == name
        return record

    assert dkim.verify(signed, dnsfunc=dns)


def test_keygen_never_overwrites_without_force(tmp_path: Path) -> None:
    key_file = tmp_path / "dkim.pem"
    args = ("--domain", "m5.test", "--selector", "s", "--type", "ed25519", "--out", str(key_file))
    assert keygen(*args)[0] == 0
    first = key_file.read_bytes()
    code, output = keygen(*args)
    assert code == 2 and "exists; keep it" in output and "--force" in output
    assert key_file.read_bytes() == first
    assert keygen(*args, "--force")[0] == 0
    assert key_file.read_bytes() != first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dkim.pem"]  # no temporary left


def test_keygen_refuses_a_name_that_is_not_dns(tmp_path: Path) -> None:
    code, output = keygen("--domain", "m5 test", "--selector", "s", "--out", str(tmp_path / "k"))
    assert code == 2 and "'m5 test' is not a DNS name" in output
    assert not (tmp_path / "k").exists()

"""SMTP URLs: smtp:// requires STARTTLS unless it says otherwise; every mistake is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from m5syndicate.errors import ConfigError
from m5syndicate.mail.smtp import SmtpTarget, parse_smtp_url


def test_smtp_requires_starttls_by_default() -> None:
    target = parse_smtp_url("smtp://mailer:p%40ss@relay.test")
    assert target == SmtpTarget(
        host="relay.test",
        port=587,
        username="mailer",
        password="p@ss",
        implicit_tls=False,
        starttls=True,
    )


def test_every_option(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    url = (
        f"smtp://relay.test:2525?starttls=auto&verify=false&ca_file={ca}&local_hostname=mx.m5.test"
    )
    target = parse_smtp_url(url)
    assert (target.port, target.starttls, target.verify) == (2525, None, False)
    assert (target.ca_file, target.local_hostname) == (str(ca), "mx.m5.test")
    assert parse_smtp_url("smtp://127.0.0.1:25?starttls=off").starttls is False
    smtps = parse_smtp_url("smtps://relay.test")
    assert (smtps.port, smtps.implicit_tls, smtps.starttls) == (465, True, False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://relay.test", "is not an SMTP URL"),
        ("smtp://relay.test?tls=none", "unknown option 'tls'; allowed: starttls, verify"),
        ("smtp://relay.test?starttls=false", "use require \\(the default\\), auto"),
        ("smtps://relay.test?starttls=off", "starttls does not apply to smtps://"),
        ("smtp://relay.test:465", "write smtps://relay.test:465"),
        ("smtp://mailer@relay.test", "user 'mailer' has no password"),
        ("smtp://relay.test?verify=no", "verify='no'; use true or false"),
        ("smtp://relay.test?ca_file=/nonexistent/ca.pem", "is not a readable file"),
        ("smtp://relay.test:99999", "port that is not a number"),
    ],
)
def test_mistakes_are_named(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_smtp_url(url)


def test_the_password_never_shows_in_a_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_smtp_url("smtp://mailer:topsecret@relay.test:99999")
    assert "topsecret" not in str(caught.value)

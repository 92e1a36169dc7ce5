"""Configuration: layering, validation messages that name the place, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from m5syndicate.config import (
    as_redacted_dict,
    load_settings,
    parse_duration,
    public_url_warnings,
)
from m5syndicate.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m5.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_then_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "[delivery]\nconcurrency = 8\nrate_per_second = 50\n")
    settings = load_settings(
        path,
        env={"M5_DELIVERY__RATE_PER_SECOND": "20"},
        overrides={"delivery": {"max_attempts": 9}},
    )
    assert settings.delivery.concurrency == 8  # file
    assert settings.delivery.rate_per_second == 20.0  # env beats file
    assert settings.delivery.max_attempts == 9  # flags beat env
    assert settings.delivery.batch_size == 500  # default


def test_m5_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\ntitle = "Other"\n')
    assert load_settings(None, env={"M5_CONFIG": str(path)}).site.title == "Other"


def test_sources_are_read_and_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nname = "wp"\ntype = "wordpress"\n'
        'url = "https://x.test/wp-json/wp/v2/"\nevery = "15m"\n',
    )
    (source,) = load_settings(path, env={}).sources
    assert (source.name, source.every_seconds) == ("wp", 900)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[site\n", "is not valid TOML"),
        ("[delivery]\nconcurency = 3\n", "did you mean 'concurrency'"),
        ("[delivery]\nconcurrency = 'four'\n", "[delivery] concurrency: expected a whole number"),
        ("[delivery]\ntransport = 'pigeon'\n", "use one of outbox, smtp"),
        ("[database]\nurl = 'mysql://x/y'\n", "[database] url"),
        ("[site]\ntimezone = 'Mars/Base'\n", "use an IANA name"),
        ("[newsletter]\ndaily_at = '25:00'\n", "write HH:MM"),
        ("[web]\nsecret_key = 'abc'\n", "set the environment variable M5_SECRET_KEY"),
        ("[nonsense]\n", "unknown section(s) nonsense"),
        ("[[sources]]\nname = 'a'\ntype = 'ftp'\nurl = 'x'\n", "use one of wordpress"),
        ("[[sources]]\nname = 'a'\nurl = 'x'\nevery = 'often'\n", "every: 'often' is not"),
        ("[delivery]\ntransport = 'smtp'\n", "M5_DELIVERY__SMTP_URL"),
    ],
)
def test_bad_file_gets_one_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as bad:
        load_settings(None, env={"M5_DELIVERY__CONCURRENCY": "many"})
    assert "environment variable M5_DELIVERY__CONCURRENCY: expected a whole number" in str(
        bad.value
    )
    assert "defaults" not in str(bad.value)  # the variable is the place, not a file
    with pytest.raises(ConfigError, match="M5_DELIVERY__CONCURENCY: unknown key; did you mean"):
        load_settings(None, env={"M5_DELIVERY__CONCURENCY": "4"})
    with pytest.raises(ConfigError, match="M5_NOPE__X: no section 'nope'"):
        load_settings(None, env={"M5_NOPE__X": "1"})


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --config PATH or set M5_CONFIG"):
        load_settings(tmp_path / "absent.toml", env={})


def test_secrets_come_from_env_and_are_redacted() -> None:
    settings = load_settings(
        None,
        env={
            "M5_SECRET_KEY": "s3cret-key-long-enough-for-hmac-0123456789",
            "M5_DATABASE__URL": "postgresql+psycopg://m5:hunter2@db/m5",
            "M5_DELIVERY__SMTP_URL": "smtp://mailer:pa55@relay:587",
        },
    )
    assert settings.web.secret_key == "s3cret-key-long-enough-for-hmac-0123456789"
    shown = repr(as_redacted_dict(settings))
    for secret in ("s3cret-key", "hunter2", "pa55"):
        assert secret not in shown
    assert "mailer:********@relay:587" in shown


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "-1m", "1.5h", "10 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_short_secret_key_is_refused_with_the_command_that_makes_one() -> None:
    with pytest.raises(ConfigError) as short:
        load_settings(None, env={"M5_SECRET_KEY": "tooshort"})
    message = str(short.value)
    assert "M5_SECRET_KEY: 8 bytes is too short" in message
    assert "secrets.token_urlsafe(48)" in message
    assert load_settings(None, env={"M5_SECRET_KEY": "x" * 32}).web.secret_key == "x" * 32


def test_public_url_that_is_not_https_is_a_warning() -> None:
    plain = load_settings(None, env={}).site
    assert "RFC 8058" in public_url_warnings(plain)[0]
    secure = load_settings(None, env={"M5_SITE__PUBLIC_URL": "https://bulten.example.org"}).site
    assert public_url_warnings(secure) == []

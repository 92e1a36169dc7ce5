"""Configuration: layering, validation messages that name the place, redaction."""

from __future__ import annotations

from pathlib import Path

import annotated_types
import pytest
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from m5syndicate.config import (
    SECTIONS,
    MappingEnvSource,
    Section,
    SourceSettings,
    as_redacted_dict,
    load_settings,
    parse_duration,
    public_url_warnings,
    setting,
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
    assert (
        settings.web.secret_key.get_secret_value() == "s3cret-key-long-enough-for-hmac-0123456789"
    )
    assert "s3cret-key" not in repr(settings)  # SecretStr: not even in a traceback's locals
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
    web = load_settings(None, env={"M5_SECRET_KEY": "x" * 32}).web
    assert web.secret_key.get_secret_value() == "x" * 32


def test_public_url_that_is_not_https_is_a_warning() -> None:
    plain = load_settings(None, env={}).site
    assert "RFC 8058" in public_url_warnings(plain)[0]
    secure = load_settings(None, env={"M5_SITE__PUBLIC_URL": "https://bulten.example.org"}).site
    assert public_url_warnings(secure) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[collect]\ntimeout_seconds = -1\n", "[collect] timeout_seconds: -1 is out of range; "),
        ("[web]\nport = 70000\n", "[web] port: 70000 is out of range; allowed: 1 to 65535"),
        ("[delivery]\nrate_per_second = nan\n", "[delivery] rate_per_second: nan is not a finite"),
        ("[delivery]\ntimeout_seconds = inf\n", "[delivery] timeout_seconds: inf is not a finite"),
        ("[collect]\nmax_redirects = -1\n", "[collect] max_redirects: -1 is out of range; allowed"),
        ("[delivery]\nconcurrency = 100000000000000000000\n", "allowed: 1 to 100"),
        ("[feeds]\nitems = 0\n", "[feeds] items: 0 is out of range; allowed: 1 to 1000"),
    ],
)
def test_numbers_out_of_range_name_the_key_and_the_range(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_env_number_out_of_range_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"M5_DELIVERY__TIMEOUT_SECONDS": "-5"})
    assert str(caught.value) == (
        "config: environment variable M5_DELIVERY__TIMEOUT_SECONDS: '-5' is out of range; "
        "allowed: 0.1 to 600"
    )


def numeric_fields() -> list[tuple[str, str, FieldInfo]]:
    tables = [*SECTIONS.items(), ("sources", SourceSettings)]
    return [
        (section, name, f)
        for section, model in tables
        for name, f in model.model_fields.items()
        if f.annotation in (int, float)
    ]


@pytest.mark.parametrize(("section", "key", "field"), numeric_fields())
def test_every_number_has_a_range_stated_in_its_help(
    section: str, key: str, field: FieldInfo
) -> None:
    limits = [m for m in field.metadata if isinstance(m, annotated_types.Ge | annotated_types.Le)]
    assert len(limits) == 2, f"[{section}] {key} needs ge= and le= in its setting(...)"
    assert " to " in (field.description or ""), f"[{section}] {key}: say the range in the help"


def test_several_problems_get_one_line_each(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nport = 0\n[delivery]\nconcurrency = 'x'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"M5_FEEDS__ITEMS": "many"})
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("config: ") for line in lines)
    assert any("environment variable M5_FEEDS__ITEMS" in line for line in lines)


def test_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m5.toml"
    path.write_bytes(b'[site]\ntitle = "M5 Dergi"\nurl = "https://m5.test/\xfe"\n')  # Latin-5
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert f"config: {path}: line 3 is not UTF-8 text (byte 0xfe); save the file as UTF-8" == str(
        caught.value
    )


def test_source_without_a_name_says_it_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "[[sources]]\nurl = 'x'\n\n[[sources]]\nname = ''\nurl = 'y'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert f"{path}: [[sources]] #1 name: is required" in str(caught.value)
    assert f"{path}: [[sources]] #2 name: must not be empty" in str(caught.value)


def test_newsletter_from_key_and_list_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, '[newsletter]\nfrom = "Bülten <b@m5.test>"\n')
    settings = load_settings(path, env={"M5_FEEDS__CATEGORIES": "savunma, , havacilik"})
    assert settings.newsletter.sender == "Bülten <b@m5.test>"
    assert settings.feeds.categories == ["savunma", "havacilik"]
    assert as_redacted_dict(settings)["newsletter"]["from"] == "Bülten <b@m5.test>"


def test_with_changes_validates_like_a_file() -> None:
    settings = load_settings(None, env={})
    changed = settings.with_changes(delivery=settings.delivery.with_changes(concurrency=9))
    assert (changed.delivery.concurrency, settings.delivery.concurrency) == (9, 4)
    with pytest.raises(ValidationError):
        settings.delivery.with_changes(concurrency=0)
    with pytest.raises(ValidationError):
        settings.delivery.with_changes(concurency=9)


class FutureSection(Section):
    """Types no setting has today, so that the next one that needs them just works."""

    tags: tuple[str, ...] = setting(("a",), "a tuple of texts")
    limit: int | None = setting(None, "a number or nothing", ge=1, le=10)
    maybe_tags: tuple[str, ...] | None = setting(None, "a tuple of texts or nothing")


class FutureRoot(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="M5_", env_nested_delimiter="__")
    optional: FutureSection = FutureSection()


def test_tuple_and_optional_settings_read_from_env_and_file() -> None:
    env = {"M5_OPTIONAL__TAGS": "x, y", "M5_OPTIONAL__LIMIT": "3", "M5_OPTIONAL__MAYBE_TAGS": "z"}
    from_env = FutureRoot.model_validate(MappingEnvSource(FutureRoot, env)()).optional
    assert (from_env.tags, from_env.limit, from_env.maybe_tags) == (("x", "y"), 3, ("z",))
    from_file = FutureSection.model_validate({"tags": ["p"], "limit": None})
    assert (from_file.tags, from_file.limit, from_file.maybe_tags) == (("p",), None, None)
    with pytest.raises(ValidationError) as caught:
        FutureSection.model_validate({"limit": 11})
    assert caught.value.errors()[0]["type"] == "less_than_equal"


def test_smtp_needs_a_postal_address_and_the_error_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "m5.toml"
    path.write_text(
        '[delivery]\ntransport = "smtp"\nsmtp_url = "smtp://relay.test:587"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[newsletter\] postal_address is empty") as raised:
        load_settings(path, env={})
    assert str(path) in str(raised.value) and "transport is smtp" in str(raised.value)
    env = {"M5_NEWSLETTER__POSTAL_ADDRESS": "Örnek Sok. 1, 06000 Ankara"}
    settings = load_settings(path, env=env)
    assert settings.newsletter.postal_address == "Örnek Sok. 1, 06000 Ankara"
    assert load_settings(None, env={}).newsletter.postal_address == ""  # outbox: optional

"""Typed settings, loaded once: defaults -> TOML file -> ``M5_<SECTION>__<KEY>`` env -> flags.

Each section is a frozen pydantic model and each key one line: its type (a ``Literal``
for choices, ``SecretStr`` for secrets), its default, its help text and, for a number,
its range. That one table drives validation, ``config show`` and the test that every
key is documented. pydantic-settings reads the layers (its TOML and environment
sources); ``load_settings`` reads each layer on its own, so that an error names the file
or the environment variable its value came from. Each part of the program receives only
its own section (``settings.delivery``...); nothing reads settings from a global.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from m5syndicate.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/m5syndicate.toml")
SourceType = Literal["wordpress", "feed", "html", "directory"]
Language = Literal["tr", "en"]
Cadence = Literal["instant", "daily", "weekly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)
LANGUAGES: tuple[str, ...] = get_args(Language)
CADENCES: tuple[str, ...] = get_args(Cadence)
WEEKDAYS: tuple[str, ...] = get_args(Weekday)
REDACTED = "********"
REQUIRED: Any = ...  # pydantic's mark of a key without a default


def setting(
    default: Any,
    help: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    key: str | None = None,
    secret: Literal["password"] | None = None,
    min_length: int | None = None,
) -> Any:
    """One key: its default, its help text and, for a number, its range ``ge`` to ``le``
    (stated in the help text too, so README, the example config and errors agree).
    ``key`` is its TOML name where that is not a Python name; ``secret="password"``
    marks a URL whose password ``config show`` hides (whole secrets are ``SecretStr``)."""
    limits = {"ge": ge, "le": le, "min_length": min_length}
    extra: dict[str, Any] = {name: value for name, value in limits.items() if value is not None}
    if isinstance(default, float):
        extra["allow_inf_nan"] = False  # NaN passes every range check, so refuse it outright
    if ge is not None or le is not None:
        help = f"{help}; {range_text(ge, le)}"
    if isinstance(default, list):
        extra["default_factory"] = lambda: list(default)
    else:
        extra["default"] = default
    return Field(
        description=help,
        alias=key,
        json_schema_extra={"secret": secret} if secret else None,
        **extra,
    )


def range_text(ge: float | None, le: float | None) -> str:
    if le is None:
        return f"at least {number(ge)}"
    if ge is None:
        return f"at most {number(le)}"
    return f"{number(ge)} to {number(le)}"


def number(value: float | None) -> str:
    return str(int(value)) if value is not None and value == int(value) else str(value)


def parse_duration(text: str) -> int:
    """'30s', '10m', '2h', '1d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ValueError(f"{text!r} is not a duration; write a whole number and s, m, h or d")
    return int(text[:-1]) * units[text[-1]]


def checked_duration(text: str) -> str:
    parse_duration(text)
    return text


# A duration key keeps its text ("10m") for `config show`; its section's ``*_seconds``
# property reads it as seconds.
Duration = Annotated[str, AfterValidator(checked_duration)]


class Section(BaseModel):
    """A table of settings: frozen, unknown keys refused, read by TOML name or field name."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_alias=True, validate_by_name=True
    )

    def with_changes(self, **changes: Any) -> Self:
        """A copy with some values changed and validated like a file's values
        (pydantic's ``model_copy(update=...)`` would not check them)."""
        return type(self).model_validate({**dict(self), **changes})


class SiteSettings(Section):
    title: str = setting("M5 Dergi", "the publisher's name, shown in feeds and mail")
    url: str = setting("https://www.m5dergi.com", "the publisher's site")
    public_url: str = setting(
        "http://127.0.0.1:8080", "where this service is reachable; links in mail and feeds"
    )
    language: Language = setting("tr", "the site's main language")
    timezone: str = setting("Europe/Istanbul", "zone for schedules and dates shown to people")

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known zone; use an IANA name like Europe/Istanbul"
            ) from None
        return value


class DatabaseSettings(Section):
    url: str = setting(
        "sqlite:///var/m5syndicate.db",
        "SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://user@host/db",
        secret="password",
    )
    outage_grace_seconds: float = setting(
        60.0,
        "send and worker wait this long for a database that went away before they stop",
        ge=0,
        le=86400,
    )

    @field_validator("url")
    @classmethod
    def supported_url(cls, value: str) -> str:
        check_database_url(value)
        return value


class CollectSettings(Section):
    backfill_days: int = setting(
        7, "on a source's first collection, older articles are stored but not mailed", ge=0, le=3650
    )
    timeout_seconds: float = setting(
        20.0, "connect and read timeout of each request", ge=0.1, le=600
    )
    max_body_mb: int = setting(
        15, "largest response body accepted, after decompression", ge=1, le=1024
    )
    max_redirects: int = setting(5, "redirects followed before a fetch fails", ge=0, le=30)
    overlap_minutes: int = setting(
        10,
        "WordPress: re-read posts modified this long before the last high-water mark",
        ge=0,
        le=1440,
    )
    reconcile_every: Duration = setting(
        "1d", "WordPress: how often every published post is listed, to withdraw the gone ones"
    )
    max_backoff_minutes: int = setting(
        360, "longest wait after repeated failures of a source", ge=1, le=10080
    )
    boilerplate: list[str] = setting(
        ["Abone Ol", "Related Articles", "İlgili Makaleler", "Back to top button"],
        "theme text removed from articles (a paragraph equal to one, or starting a tail)",
    )

    category_languages: list[str] = setting(
        ["defence-news=en"],
        "slug=language: articles in that category are in that language, whatever the "
        "source or the page says (a post's own multilingual-plugin field still wins)",
    )

    @field_validator("category_languages")
    @classmethod
    def are_category_languages(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            slug, sep, lang = entry.partition("=")
            if not sep or not slug.strip() or lang.strip() not in LANGUAGES:
                raise ValueError(
                    f'{entry!r} is not slug=language; write it like "defence-news=en" '
                    f"({' or '.join(LANGUAGES)})"
                )
        return entries

    @property
    def reconcile_every_seconds(self) -> int:
        return parse_duration(self.reconcile_every)


class SourceSettings(Section):
    name: str = setting(
        REQUIRED, "unique name, used by `collect --source` and in `sources`", min_length=1
    )
    type: SourceType = setting("directory", "how to read it")
    url: str = setting(
        REQUIRED, "API root, feed or section URL; a folder path for directory", min_length=1
    )
    every: Duration = setting("10m", "how often it is checked: 30s, 10m, 2h, 1d")
    categories: list[str] = setting([], "only keep articles in these category slugs (empty: all)")
    language: Literal["", Language] = setting(
        "", "language of its articles (tr or en), unless the post or its category says another"
    )
    enabled: bool = setting(True, "false keeps the source's data but stops collecting it")

    @property
    def every_seconds(self) -> int:
        return parse_duration(self.every)


class FeedsSettings(Section):
    items: int = setting(50, "articles in each feed", ge=1, le=1000)
    full_content: bool = setting(True, "put the whole article in feeds (false: summary only)")
    out_dir: str = setting("var/feeds", "where `feeds build` writes the files")
    websub_hub: str = setting("", "WebSub hub to advertise and ping (empty: none)")
    max_age: int = setting(
        300, "Cache-Control max-age, in seconds, of served feeds", ge=0, le=86400
    )
    languages: list[Language] = setting(["tr", "en"], "one feed of everything per language")
    categories: list[str] = setting(["defence-news", "one-cikan"], "one feed per category slug")
    category_names: list[str] = setting(
        [
            "one-cikan:tr=Öne Çıkan",
            "one-cikan:en=Featured",
            "defence-news:en=Defence News",
        ],
        "slug:language=Name: a category's name in each language, for feed titles and labels "
        "(else the name the site gives it); a category feed speaks the site's language if "
        "its category has a name in it, else the first language it has one in",
    )

    @field_validator("category_names")
    @classmethod
    def are_category_names(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            key, sep, name = entry.partition("=")
            slug, colon, lang = key.partition(":")
            if (
                not (sep and colon and slug.strip() and name.strip())
                or lang.strip() not in LANGUAGES
            ):
                raise ValueError(
                    f'{entry!r} is not slug:language=Name; write it like "one-cikan:en=Featured"'
                )
        return entries

    @property
    def category_labels(self) -> dict[str, dict[str, str]]:
        """``category_names`` as slug -> language -> name (the validator checked the form)."""
        found: dict[str, dict[str, str]] = {}
        for entry in self.category_names:
            key, _, name = entry.partition("=")
            slug, _, language = key.partition(":")
            found.setdefault(slug.strip(), {})[language.strip()] = name.strip()
        return found


class NewsletterSettings(Section):
    sender: str = setting("M5 Dergi <bulten@example.org>", "From address of every mail", key="from")
    reply_to: str = setting("", "Reply-To address (empty: none)")
    daily_at: str = setting("07:00", "local time of the daily digest (HH:MM, site.timezone)")
    weekly_on: Weekday = setting("monday", "day of the weekly digest")
    max_articles: int = setting(
        10, "most articles in one digest; the rest are linked", ge=1, le=500
    )
    min_articles: int = setting(
        1, "fewer than this and the subscriber's digest is skipped", ge=0, le=500
    )
    breaking_categories: list[str] = setting(
        ["one-cikan"], "category slugs that go out at once to `instant` subscribers"
    )
    templates_dir: str = setting("", "folder of templates overriding the bundled ones")
    consent_version: str = setting("2026-11", "version of the consent text people agree to")
    postal_address: str = setting(
        "",
        "the sender's postal address, in the footer of every mail; required once "
        "[delivery] transport is smtp",
    )

    @field_validator("daily_at")
    @classmethod
    def is_clock(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"{value!r} is not a time; write HH:MM like 07:00")
        return value


class DeliverySettings(Section):
    transport: Literal["outbox", "smtp"] = setting("outbox", "outbox (files) or smtp")
    outbox_dir: str = setting("var/outbox", "Maildir the outbox transport writes to")
    smtp_url: str = setting(
        "",
        "smtp://user:pass@host:587 (STARTTLS) or smtps://...:465; best set by env",
        secret="password",
    )
    concurrency: int = setting(4, "SMTP connections kept open at once", ge=1, le=100)
    rate_per_second: float = setting(
        0.0, "most messages per second (0: as fast as possible)", ge=0, le=10000
    )
    daily_cap: int = setting(0, "most messages per day (0: no cap)", ge=0, le=100_000_000)
    max_attempts: int = setting(5, "tries of one delivery before it is failed", ge=1, le=100)
    lease_seconds: int = setting(
        30, "how long a claimed delivery is held before others retake it", ge=1, le=3600
    )
    batch_size: int = setting(
        500, "deliveries claimed and written per database round trip", ge=1, le=10000
    )
    retry_seconds: float = setting(
        10.0,
        "first wait before retrying a temporary failure; doubles each attempt (max 1 h)",
        ge=0.01,
        le=3600,
    )
    pause_after: int = setting(
        20, "failures in a row that pause the edition (the relay is down)", ge=1, le=10000
    )
    relay_outage_grace_seconds: float = setting(
        60.0,
        "send waits this long for a relay that refuses or drops connections (retrying with "
        "backoff, pausing nothing) before it stops",
        ge=0,
        le=86400,
    )
    timeout_seconds: float = setting(30.0, "SMTP connect and reply timeout", ge=0.1, le=600)
    data_timeout_seconds: float = setting(
        600.0,
        "wait for the reply to the end of a message (RFC 5321: 10 min); shorter ones cause "
        "duplicates",
        ge=1,
        le=3600,
    )
    unknown_outcome: Literal["sent", "retry"] = setting(
        "sent",
        "a message sent whose reply never came: count it as sent (no duplicate) or retry it",
    )

    @model_validator(mode="after")
    def smtp_has_a_url(self) -> Self:
        if self.transport == "smtp" and not self.smtp_url:
            raise ValueError(
                "transport is smtp but smtp_url is empty; "
                "set M5_DELIVERY__SMTP_URL=smtp://user:pass@host:587"
            )
        return self


class DkimSettings(Section):
    domain: str = setting("", "d= of the signature (empty: no signing)")
    selector: str = setting("", "s= of the signature")
    private_key_file: str = setting("", "PEM file of the RSA-2048 or Ed25519 private key")
    keys: list[str] = setting(
        [], 'more keys, each "SELECTOR:FILE": one signature per key (RSA + Ed25519, RFC 8463)'
    )


class WebSettings(Section):
    host: str = setting("127.0.0.1", "address `serve` and `run` listen on")
    port: int = setting(8080, "port `serve` and `run` listen on", ge=1, le=65535)
    secret_key: SecretStr = setting(
        SecretStr(""), "signs tokens in links; only from env M5_SECRET_KEY"
    )
    admin_token: SecretStr = setting(
        SecretStr(""), "bearer token of /api/; only from env M5_ADMIN_TOKEN"
    )
    webhook_secret: SecretStr = setting(
        SecretStr(""), "secret of /api/hooks/; only from env M5_WEBHOOK_SECRET"
    )
    subscribe_limit: int = setting(
        10, "subscribe form posts accepted per IP per 10 minutes", ge=1, le=10000
    )
    forwarded_allow_ips: list[str] = setting(
        [],
        "addresses or networks of your reverse proxies; only their X-Forwarded-For and "
        "X-Forwarded-Proto are believed (empty: none, the peer address is the client)",
    )

    @field_validator("secret_key")
    @classmethod
    def long_enough(cls, value: SecretStr) -> SecretStr:
        problem = secret_key_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def are_networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an IP address or network; write e.g. 127.0.0.1, "
                    "::1 or 10.0.0.0/8 (a trusted proxy may forge any client address)"
                ) from None
        return [value.strip() for value in values]


class ScheduleSettings(Section):
    catch_up_grace: Duration = setting(
        "6h", "a digest missed while down still goes out this late; later it is noted as missed"
    )
    leader_check: Duration = setting(
        "15s", "how often a waiting instance tries to take over from a dead leader"
    )
    retention_days: int = setting(
        400,
        "delivery ledger rows of editions older than this are pruned (0: keep forever)",
        ge=0,
        le=36500,
    )
    log_json: bool = setting(False, "log one JSON object per line (stable keys) instead of text")

    @property
    def catch_up_grace_seconds(self) -> int:
        return parse_duration(self.catch_up_grace)

    @property
    def leader_check_seconds(self) -> int:
        return parse_duration(self.leader_check)


class BouncesSettings(Section):
    mailbox: str = setting(
        "",
        "where bounces arrive: imaps://user@host/INBOX, imap://... (STARTTLS) or "
        "maildir:/path (empty: not read); password from env M5_BOUNCES_PASSWORD",
    )
    password: SecretStr = setting(
        SecretStr(""), "IMAP password of the mailbox; only from env M5_BOUNCES_PASSWORD"
    )
    return_path: str = setting(
        "",
        "envelope sender of each digest, {token} naming the delivery "
        "(empty: bounces+{token}@ the From domain)",
    )
    every: Duration = setting("5m", "how often `run` reads the bounce mailbox")
    soft_limit: int = setting(
        3, "soft bounces within soft_window_days that suppress an address", ge=1, le=1000
    )
    soft_window_days: int = setting(30, "window of soft_limit, in days", ge=1, le=3650)
    pause_hard_rate: float = setting(
        0.05, "an edition pauses when this share of its messages bounced hard", ge=0, le=1
    )
    pause_complaint_rate: float = setting(
        0.003, "an edition pauses when this share of its messages drew complaints", ge=0, le=1
    )
    pause_after_messages: int = setting(
        1000, "messages an edition sends before the pause rates apply", ge=1, le=100_000_000
    )
    mailgun_signing_key: SecretStr = setting(
        SecretStr(""), "Mailgun webhook signing key; only from env M5_MAILGUN_SIGNING_KEY"
    )
    postmark_user: str = setting("postmark", "basic-auth user of the Postmark webhook")
    postmark_password: SecretStr = setting(
        SecretStr(""),
        "basic-auth password of the Postmark webhook; only from env M5_POSTMARK_PASSWORD",
    )
    sendgrid_public_key: str = setting(
        "", "SendGrid event webhook verification key (base64), empty: hook off"
    )
    ses_topic_arns: list[str] = setting(
        [], "SNS topics whose SES notifications are accepted (empty: SES hook off)"
    )

    @field_validator("mailbox")
    @classmethod
    def known_mailbox(cls, value: str) -> str:
        if value and not value.startswith(("imaps://", "imap://", "maildir:")):
            raise ValueError(
                f"{value!r} is not a mailbox; write imaps://user@host/INBOX or maildir:/path"
            )
        return value

    @field_validator("return_path")
    @classmethod
    def has_token_slot(cls, value: str) -> str:
        if value and ("{token}" not in value or "@" not in value):
            raise ValueError(
                f"{value!r} needs a {{token}} slot and a domain, like bounces+{{token}}@example.org"
            )
        return value

    @property
    def every_seconds(self) -> int:
        return parse_duration(self.every)


class TrackingSettings(Section):
    clicks: bool = setting(
        True,
        "count clicks per article and edition: digest links go through /r/ on public_url "
        "(the same link for every reader; no one's identity is recorded)",
    )


class Settings(BaseSettings, Section):
    """Every section. pydantic-settings' sources read the file and the environment with
    this class's config (in ``load_settings``, one layer at a time); building ``Settings``
    directly only takes its arguments, never ``os.environ`` behind the caller's back."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="M5_",
        env_nested_delimiter="__",
        case_sensitive=False,
        validate_by_alias=True,
        validate_by_name=True,
    )

    site: SiteSettings = SiteSettings()
    database: DatabaseSettings = DatabaseSettings()
    collect: CollectSettings = CollectSettings()
    sources: tuple[SourceSettings, ...] = ()
    feeds: FeedsSettings = FeedsSettings()
    newsletter: NewsletterSettings = NewsletterSettings()
    delivery: DeliverySettings = DeliverySettings()
    dkim: DkimSettings = DkimSettings()
    web: WebSettings = WebSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    bounces: BouncesSettings = BouncesSettings()
    tracking: TrackingSettings = TrackingSettings()
    path: str = ""  # the file it was read from, for messages; set by load_settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @field_validator("sources")
    @classmethod
    def unique_names(cls, sources: tuple[SourceSettings, ...]) -> tuple[SourceSettings, ...]:
        names = [s.name for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique: {duplicates}")
        return sources

    @model_validator(mode="after")
    def smtp_mail_has_a_postal_address(self) -> Self:
        # CAN-SPAM and Gmail's and Yahoo's bulk-sender rules: a real sender's address.
        if self.delivery.transport == "smtp" and not self.newsletter.postal_address.strip():
            raise ValueError(
                "[newsletter] postal_address is empty but [delivery] transport is smtp: "
                "every mail sent must show the sender's postal address; set "
                'postal_address = "Street 1, 34000 City, Country" in [newsletter] '
                "(or M5_NEWSLETTER__POSTAL_ADDRESS)"
            )
        return self

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"config: no source named {name!r}; known sources: {known}")


SECTIONS: dict[str, type[Section]] = {
    name: f.annotation
    for name, f in Settings.model_fields.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, Section)
}
# Secrets set only from the environment, by these names.
ENV_SECRETS = {
    ("web", "secret_key"): "M5_SECRET_KEY",
    ("web", "admin_token"): "M5_ADMIN_TOKEN",
    ("web", "webhook_secret"): "M5_WEBHOOK_SECRET",
    ("bounces", "password"): "M5_BOUNCES_PASSWORD",
    ("bounces", "mailgun_signing_key"): "M5_MAILGUN_SIGNING_KEY",
    ("bounces", "postmark_password"): "M5_POSTMARK_PASSWORD",
}


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read, merge and validate the configuration; raise ConfigError naming the place."""
    env = os.environ if env is None else env
    file_path = resolve_path(path, env)
    layers = Layers(
        where=str(file_path) if file_path else "defaults",
        file=read_file(file_path),
        env=read_env(env),
        flags={section: dict(values) for section, values in (overrides or {}).items()},
        env_names=env_names(env),
    )
    try:
        return Settings.model_validate({**layers.merged(), "path": layers.where})
    except ValidationError as exc:
        raise ConfigError("\n".join(layers.explain(e) for e in exc.errors())) from None


def resolve_path(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path:
        return Path(path)
    if env.get("M5_CONFIG"):
        return Path(env["M5_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def read_file(path: Path | None) -> dict[str, Any]:
    """The file's tables, with its unknown sections and its secrets refused."""
    if path is None:
        return {}
    if not path.is_file():  # the TOML source skips a missing file quietly; a named one must be
        problem = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"config: {path} {problem}; pass --config PATH or set M5_CONFIG")
    try:
        raw = TomlConfigSettingsSource(Settings, toml_file=path).toml_data
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config: {path}: line {line} is not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}; fix that line") from None
    except OSError as exc:
        raise ConfigError(f"config: {path} cannot be read: {exc.strerror}") from None
    check_sections(raw, str(path))
    check_no_secrets(raw, str(path))
    return raw


def check_sections(raw: Mapping[str, Any], where: str) -> None:
    allowed = [*SECTIONS, "sources"]
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        hint = difflib.get_close_matches(unknown[0], allowed, n=1)
        suggestion = f"; did you mean [{hint[0]}]?" if hint else ""
        raise ConfigError(
            f"config: {where}: unknown section(s) {', '.join(unknown)}{suggestion} "
            f"(allowed: {', '.join(allowed)})"
        )


def check_no_secrets(raw: Mapping[str, Any], where: str) -> None:
    for (section, key), variable in ENV_SECRETS.items():
        table = raw.get(section)
        if isinstance(table, dict) and key in table:
            raise ConfigError(
                f"config: {where}: [{section}] {key}: secrets are not read from files; "
                f"set the environment variable {variable} instead"
            )


def section_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The M5_<SECTION>__<KEY> variables; other M5_ names (M5_CONFIG...) are not settings."""
    return {
        name: value
        for name, value in env.items()
        if name.upper().startswith("M5_") and "__" in name
    }


def env_names(env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(section, key) -> the variable that set it, for messages."""
    names = {}
    for name in section_variables(env):
        section, _, key = name[3:].lower().partition("__")
        names[(section, key)] = name
    names.update({place: name for place, name in ENV_SECRETS.items() if env.get(name)})
    return names


def read_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The environment layer: M5_<SECTION>__<KEY> and the secret variables (ENV_SECRETS)."""
    variables = section_variables(env)
    for name in variables:
        section = name[3:].lower().partition("__")[0]
        if section not in SECTIONS:
            problem = (
                "sources are only read from the config file"
                if section == "sources"
                else f"no section {section!r}; allowed: {', '.join(SECTIONS)}"
            )
            raise ConfigError(f"config: environment variable {name}: {problem}")
    try:
        values = MappingEnvSource(Settings, variables)()
    except SettingsError as exc:
        raise ConfigError(f"config: environment: {exc}") from None
    for (section, key), name in ENV_SECRETS.items():
        if env.get(name):
            values.setdefault(section, {})[key] = env[name]
    return values


class MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``load_settings`` takes
    one, so tests need not patch ``os.environ``), with lists as comma-separated text as
    README promises (the stock source wants JSON there)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self.mapping = env  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self.mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        if field is not None and is_sequence(field.annotation):
            return [item.strip() for item in str(value).split(",") if item.strip()]
        return super().decode_complex_value(field_name, field, value)


def is_sequence(annotation: Any) -> bool:
    """list[...], tuple[...], or either or None (``tuple[str, ...] | None``)."""
    if get_origin(annotation) in (list, tuple):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        is_sequence(arg) for arg in get_args(annotation)
    )


def merge(low: dict[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, table by table."""
    merged = dict(low)
    for key, value in high.items():
        below = merged.get(key)
        merged[key] = (
            merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return merged


@dataclass(frozen=True)
class Layers:
    """The values of each layer as read, so that an error names where its value came from."""

    where: str  # the file, or "defaults"
    file: dict[str, Any]
    env: dict[str, Any]
    flags: dict[str, Any]
    env_names: dict[tuple[str, str], str]

    def merged(self) -> dict[str, Any]:
        return merge(merge(self.file, self.env), self.flags)

    def explain(self, error: ErrorDetails) -> str:
        return f"config: {self.place(error['loc'])}: {what_was_wrong(error)}"

    def place(self, loc: tuple[int | str, ...]) -> str:
        names = [str(part) for part in loc if isinstance(part, str)]
        if not names:
            return self.where
        if len(names) == 1:  # a check across a section's keys
            if holds(self.env, loc) and not holds(self.file, loc):
                return f"environment variables M5_{names[0].upper()}__*"
            return f"{self.where}: [{names[0]}]"
        section, key = names[0], names[1]
        if holds(self.flags, loc):
            return f"command-line option for [{section}] {key}"
        if holds(self.env, loc):
            variable = f"M5_{section.upper()}__{key.upper()}"
            return f"environment variable {self.env_names.get((section, key), variable)}"
        if section == "sources" and isinstance(loc[1], int):
            return f"{self.where}: [[sources]] #{loc[1] + 1} {'.'.join(names[1:])}".rstrip()
        return f"{self.where}: [{section}] {'.'.join(names[1:])}"


def holds(layer: Any, loc: tuple[int | str, ...]) -> bool:
    """Whether ``layer`` set the value at ``loc`` (a key, or a table below it)."""
    for part in loc:
        if isinstance(layer, str):
            return False
        try:
            layer = layer[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def what_was_wrong(error: ErrorDetails) -> str:
    """pydantic's error, said the way an operator editing the file needs it."""
    kind, value = error["type"], error.get("input")
    field = field_at(error["loc"])
    if kind == "extra_forbidden":
        return unknown_key(error["loc"])
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "literal_error" and field is not None:
        choices = ", ".join(repr(c) if c == "" else str(c) for c in literal_choices(field))
        return f"{value!r} is not allowed; use one of {choices}"
    if kind == "finite_number" and field is not None:
        return f"{value!r} is not a finite number; allowed: {allowed_range(field)}"
    if kind in ("greater_than_equal", "less_than_equal") and field is not None:
        return f"{value!r} is out of range; allowed: {allowed_range(field)}"
    return PLAIN_WORDS.get(kind, error["msg"]).format(value=value)


PLAIN_WORDS = {
    "missing": "is required",
    "int_parsing": "expected a whole number, got {value!r}",
    "int_type": "expected a whole number, got {value!r}",
    "int_from_float": "expected a whole number, got {value!r}",
    "float_parsing": "expected a number, got {value!r}",
    "float_type": "expected a number, got {value!r}",
    "bool_parsing": "expected true or false, got {value!r}",
    "bool_type": "expected true or false, got {value!r}",
    "string_type": "expected text in quotes, got {value!r}",
    "string_too_short": "must not be empty",
    "list_type": 'expected a list of texts like ["a", "b"], got {value!r}',
    "tuple_type": "expected [[sources]] tables, got {value!r}",
    "model_type": "expected a table of keys, got {value!r}",
    "model_attributes_type": "expected a table of keys, got {value!r}",
}


def model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model holding the keys at ``loc`` (list indexes skipped)."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = keyed_fields(model).get(part)
        inner = model_in(field.annotation) if field else None
        if inner is None:
            return None
        model = inner
    return model


def model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is tuple:  # sources: tuple[SourceSettings, ...]
        return model_in(get_args(annotation)[0])
    return None


def keyed_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Fields by TOML key (the alias where there is one)."""
    return {f.alias or name: f for name, f in model.model_fields.items()}


def field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    names = [part for part in loc if isinstance(part, str)]
    model = model_at(tuple(names[:-1])) if names else None
    return keyed_fields(model).get(names[-1]) if model else None


def unknown_key(loc: tuple[int | str, ...]) -> str:
    model = model_at(loc[:-1])
    known = list(keyed_fields(model)) if model else []
    hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown key{suggestion} (allowed: {', '.join(known)})"


def literal_choices(field: FieldInfo) -> list[Any]:
    """The allowed values of a Literal key, nested Literals flattened."""
    choices: list[Any] = []
    for arg in get_args(field.annotation):
        choices.extend(get_args(arg) if get_origin(arg) is Literal else [arg])
    return choices


def allowed_range(field: FieldInfo) -> str:
    ge = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
    le = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
    return range_text(ge, le)  # type: ignore[arg-type]


# Tokens in links are HMACs under this key: shorter keys can be guessed offline.
MIN_SECRET_KEY_BYTES = 32
MAKE_SECRET_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def secret_key_problem(key: str) -> str | None:
    size = len(key.encode("utf-8"))
    if key and size < MIN_SECRET_KEY_BYTES:
        return (
            f"{size} bytes is too short; it signs the links in every mail and needs at least "
            f"{MIN_SECRET_KEY_BYTES}. Make one with: {MAKE_SECRET_KEY}"
        )
    return None


def public_url_warnings(site: SiteSettings) -> list[str]:
    """What an operator should fix before mailing people (shown at start, not fatal)."""
    if site.public_url.startswith("https://"):
        return []
    return [
        f"[site] public_url {site.public_url!r} is not https: mail clients only offer "
        "one-click unsubscribe (RFC 8058) to https links, and tokens travel in clear text; "
        'set public_url = "https://..." for production'
    ]


def check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.drivername not in (
        "sqlite",
        "sqlite+pysqlite",
        "postgresql",
        "postgresql+psycopg",
    ):
        raise ValueError(
            f"{redact_url(url)!r} is not a supported URL; "
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/db"
        )


def redact_url(url: str) -> str:
    """Hide the password of a URL (user:pass@host)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':' + REDACTED if colon else ''}@{host}"


def as_redacted_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings as TOML-shaped data, secrets hidden: for `config show`."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        out[name] = redacted_section(getattr(settings, name))
    out["sources"] = [redacted_section(source) for source in settings.sources]
    return out


def redacted_section(section: Section) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, f in type(section).model_fields.items():
        value = getattr(section, name)
        if isinstance(value, SecretStr):
            value = REDACTED if value.get_secret_value() else ""
        elif is_password_url(f) and value:
            value = redact_url(value)
        values[f.alias or name] = value
    return values


def is_password_url(f: FieldInfo) -> bool:
    return isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("secret") == "password"


def documented_keys() -> list[tuple[str, str, str]]:
    """(section, key, help) of every setting; the docs test checks each is documented."""
    rows = []
    tables: list[tuple[str, type[Section]]] = [*SECTIONS.items(), ("sources", SourceSettings)]
    for name, cls in tables:
        for key, f in keyed_fields(cls).items():
            rows.append((name, key, f.description or ""))
    return rows

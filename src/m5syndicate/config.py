"""Typed settings, loaded once: defaults -> TOML file -> ``M5_<SECTION>__<KEY>`` env -> flags.

Every key is a dataclass field whose metadata carries its help text (and, where it
matters, its allowed values, its TOML name and whether it is a secret). That one table
drives loading, validation, ``config show`` and the test that every key is documented.
Each part of the program receives only its own section (``settings.delivery``...);
nothing reads settings from a global.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from m5syndicate.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/m5syndicate.toml")
SOURCE_TYPES = ("wordpress", "feed", "html", "directory")
LANGUAGES = ("tr", "en")
CADENCES = ("instant", "daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REDACTED = "********"


def setting(default: Any, help: str, **extra: Any) -> Any:
    """A field with its documentation; ``extra`` may hold choices, key, secret, env."""
    meta = {"help": help, **extra}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SiteSettings:
    title: str = setting("M5 Dergi", "the publisher's name, shown in feeds and mail")
    url: str = setting("https://www.m5dergi.com", "the publisher's site")
    public_url: str = setting(
        "http://127.0.0.1:8080", "where this service is reachable; links in mail and feeds"
    )
    language: str = setting("tr", "the site's main language", choices=LANGUAGES)
    timezone: str = setting("Europe/Istanbul", "zone for schedules and dates shown to people")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting(
        "sqlite:///var/m5syndicate.db",
        "SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://user@host/db",
        secret="password",
    )


@dataclass(frozen=True)
class CollectSettings:
    backfill_days: int = setting(
        7, "on a source's first collection, older articles are stored but not mailed"
    )
    timeout_seconds: float = setting(20.0, "connect and read timeout of each request")
    max_body_mb: int = setting(15, "largest response body accepted, after decompression")
    max_redirects: int = setting(5, "redirects followed before a fetch fails")
    overlap_minutes: int = setting(
        10, "WordPress: re-read posts modified this long before the last high-water mark"
    )
    reconcile_every: str = setting(
        "1d", "WordPress: how often every published post is listed, to withdraw the gone ones"
    )
    max_backoff_minutes: int = setting(360, "longest wait after repeated failures of a source")
    boilerplate: list[str] = setting(
        ["Abone Ol", "Related Articles", "İlgili Makaleler", "Back to top button"],
        "theme text removed from articles (a paragraph equal to one, or starting a tail)",
    )
    category_languages: list[str] = setting(
        ["defence-news=en"],
        "slug=language: articles in that category are in that language, whatever the "
        "source or the page says (a post's own multilingual-plugin field still wins)",
    )

    @property
    def reconcile_every_seconds(self) -> int:
        return parse_duration(self.reconcile_every)


@dataclass(frozen=True)
class SourceSettings:
    name: str = setting("", "unique name, used by `collect --source` and in `sources`")
    type: str = setting("directory", "how to read it", choices=SOURCE_TYPES)
    url: str = setting("", "API root, feed or section URL; a folder path for directory")
    every: str = setting("10m", "how often it is checked: 30s, 10m, 2h, 1d")
    categories: list[str] = setting([], "only keep articles in these category slugs (empty: all)")
    language: str = setting(
        "", "language of its articles (tr or en), unless the post or its category says another"
    )
    enabled: bool = setting(True, "false keeps the source's data but stops collecting it")

    @property
    def every_seconds(self) -> int:
        return parse_duration(self.every)


@dataclass(frozen=True)
class FeedsSettings:
    items: int = setting(50, "articles in each feed")
    full_content: bool = setting(True, "put the whole article in feeds (false: summary only)")
    out_dir: str = setting("var/feeds", "where `feeds build` writes the files")
    websub_hub: str = setting("", "WebSub hub to advertise and ping (empty: none)")
    max_age: int = setting(300, "Cache-Control max-age, in seconds, of served feeds")
    languages: list[str] = setting(["tr", "en"], "one feed of everything per language")
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


@dataclass(frozen=True)
class NewsletterSettings:
    sender: str = setting("M5 Dergi <bulten@example.org>", "From address of every mail", key="from")
    reply_to: str = setting("", "Reply-To address (empty: none)")
    daily_at: str = setting("07:00", "local time of the daily digest (HH:MM, site.timezone)")
    weekly_on: str = setting("monday", "day of the weekly digest", choices=WEEKDAYS)
    max_articles: int = setting(10, "most articles in one digest; the rest are linked")
    min_articles: int = setting(1, "fewer than this and the subscriber's digest is skipped")
    breaking_categories: list[str] = setting(
        ["one-cikan"], "category slugs that go out at once to `instant` subscribers"
    )
    templates_dir: str = setting("", "folder of templates overriding the bundled ones")
    consent_version: str = setting("2026-11", "version of the consent text people agree to")


@dataclass(frozen=True)
class DeliverySettings:
    transport: str = setting("outbox", "outbox (files) or smtp", choices=("outbox", "smtp"))
    outbox_dir: str = setting("var/outbox", "Maildir the outbox transport writes to")
    smtp_url: str = setting(
        "",
        "smtp://user:pass@host:587 (STARTTLS) or smtps://...:465; best set by env",
        secret="password",
    )
    concurrency: int = setting(4, "SMTP connections kept open at once")
    rate_per_second: float = setting(0.0, "most messages per second (0: as fast as possible)")
    daily_cap: int = setting(0, "most messages per day (0: no cap)")
    max_attempts: int = setting(5, "tries of one delivery before it is failed")
    lease_seconds: int = setting(30, "how long a claimed delivery is held before others retake it")
    batch_size: int = setting(500, "deliveries claimed and written per database round trip")
    retry_seconds: float = setting(
        10.0, "first wait before retrying a temporary failure; doubles each attempt (max 1 h)"
    )
    pause_after: int = setting(20, "failures in a row that pause the edition (the relay is down)")
    timeout_seconds: float = setting(30.0, "SMTP connect and reply timeout")


@dataclass(frozen=True)
class DkimSettings:
    domain: str = setting("", "d= of the signature (empty: no signing)")
    selector: str = setting("", "s= of the signature")
    private_key_file: str = setting("", "PEM file of the RSA-2048 or Ed25519 private key")
    keys: list[str] = setting(
        [], 'more keys, each "SELECTOR:FILE": one signature per key (RSA + Ed25519, RFC 8463)'
    )


@dataclass(frozen=True)
class WebSettings:
    host: str = setting("127.0.0.1", "address `serve` and `run` listen on")
    port: int = setting(8080, "port `serve` and `run` listen on")
    secret_key: str = setting(
        "", "signs tokens in links; only from env M5_SECRET_KEY", secret="all", env_only=True
    )
    admin_token: str = setting(
        "", "bearer token of /api/; only from env M5_ADMIN_TOKEN", secret="all", env_only=True
    )
    webhook_secret: str = setting(
        "", "secret of /api/hooks/; only from env M5_WEBHOOK_SECRET", secret="all", env_only=True
    )
    subscribe_limit: int = setting(10, "subscribe form posts accepted per IP per 10 minutes")


@dataclass(frozen=True)
class ScheduleSettings:
    catch_up_grace: str = setting(
        "6h", "a digest missed while down still goes out this late; later it is noted as missed"
    )
    leader_check: str = setting(
        "15s", "how often a waiting instance tries to take over from a dead leader"
    )
    retention_days: int = setting(
        400, "delivery ledger rows of editions older than this are pruned (0: keep forever)"
    )
    log_json: bool = setting(False, "log one JSON object per line (stable keys) instead of text")

    @property
    def catch_up_grace_seconds(self) -> int:
        return parse_duration(self.catch_up_grace)

    @property
    def leader_check_seconds(self) -> int:
        return parse_duration(self.leader_check)


@dataclass(frozen=True)
class Settings:
    site: SiteSettings = field(default_factory=SiteSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    sources: tuple[SourceSettings, ...] = ()
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    newsletter: NewsletterSettings = field(default_factory=NewsletterSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    web: WebSettings = field(default_factory=WebSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    path: str = ""  # the file it was read from, for messages

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"config: no source named {name!r}; known sources: {known}")


SECTIONS: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(Settings)
    if f.name not in ("sources", "path")
}
# Secrets set only from the environment, by these names.
ENV_SECRETS = {
    ("web", "secret_key"): "M5_SECRET_KEY",
    ("web", "admin_token"): "M5_ADMIN_TOKEN",
    ("web", "webhook_secret"): "M5_WEBHOOK_SECRET",
}


def toml_key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


def parse_duration(text: str) -> int:
    """'30s', '10m', '2h', '1d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ValueError(f"{text!r} is not a duration; write a whole number and s, m, h or d")
    return int(text[:-1]) * units[text[-1]]


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read, merge and validate the configuration; raise ConfigError naming the place."""
    env = os.environ if env is None else env
    file_path = resolve_path(path, env)
    raw = read_toml(file_path)
    where = str(file_path) if file_path else "defaults"
    sections = {name: dict(raw.pop(name, {}) or {}) for name in SECTIONS}
    sources_raw = raw.pop("sources", [])
    if raw:
        unknown = ", ".join(sorted(raw))
        raise ConfigError(
            f"config: {where}: unknown section(s) {unknown}; allowed: "
            f"{', '.join([*SECTIONS, 'sources'])}"
        )
    apply_env(sections, env)
    for section, values in (overrides or {}).items():
        sections.setdefault(section, {}).update(values)
    built = {
        name: build_section(cls, sections[name], f"{where}: [{name}]", env)
        for name, cls in SECTIONS.items()
    }
    sources = build_sources(sources_raw, where)
    settings = Settings(**built, sources=sources, path=where)
    validate(settings, where)
    return settings


def resolve_path(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path:
        return Path(path)
    if env.get("M5_CONFIG"):
        return Path(env["M5_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def read_toml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"config: {path} does not exist; pass --config PATH or set M5_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}; fix that line") from exc


def apply_env(sections: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    """M5_<SECTION>__<KEY>=value overrides the file (strings, parsed later by type)."""
    for name, value in env.items():
        if not name.startswith("M5_") or "__" not in name:
            continue
        section, _, key = name[3:].lower().partition("__")
        if section not in SECTIONS:
            raise ConfigError(
                f"config: environment variable {name}: no section {section!r}; "
                f"allowed: {', '.join(SECTIONS)}"
            )
        sections[section][key] = EnvValue(value, name)


class EnvValue(str):
    """A value from the environment: always text, converted by the field's type. It keeps
    the variable's name, so that a bad value is reported as the variable, not the file."""

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvValue:
        text = super().__new__(cls, value)
        text.variable = variable
        return text


def build_section(cls: type, values: dict[str, Any], place: str, env: Mapping[str, str]) -> Any:
    fields = {toml_key(f): f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = fields.get(key)
        if f is None:
            hint = difflib.get_close_matches(key, fields, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            where = f"environment variable {value.variable}" if isinstance(value, EnvValue) else ""
            raise ConfigError(
                f"config: {where or f'{place} {key}'}: unknown key{suggestion} "
                f"(allowed: {', '.join(fields)})"
            )
        if f.metadata.get("env_only") and not isinstance(value, EnvValue):
            env_name = ENV_SECRETS.get((place.rsplit("[", 1)[-1].rstrip("]"), f.name), "env")
            raise ConfigError(
                f"config: {place} {key}: secrets are not read from files; "
                f"set the environment variable {env_name} instead"
            )
        kwargs[f.name] = convert(value, f, f"{place} {key}")
    for (section, name), env_name in ENV_SECRETS.items():
        if cls is SECTIONS.get(section) and env.get(env_name):
            kwargs[name] = env[env_name]
    return cls(**kwargs)


# Tokens in links are HMACs under this key: shorter keys can be guessed offline.
MIN_SECRET_KEY_BYTES = 32
MAKE_SECRET_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def check_secret_key(key: str) -> None:
    if key and len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"config: environment variable M5_SECRET_KEY: {len(key.encode('utf-8'))} bytes is "
            f"too short; it signs the links in every mail and needs at least "
            f"{MIN_SECRET_KEY_BYTES}. Make one with: {MAKE_SECRET_KEY}"
        )


def public_url_warnings(site: SiteSettings) -> list[str]:
    """What an operator should fix before mailing people (shown at start, not fatal)."""
    if site.public_url.startswith("https://"):
        return []
    return [
        f"[site] public_url {site.public_url!r} is not https: mail clients only offer "
        "one-click unsubscribe (RFC 8058) to https links, and tokens travel in clear text; "
        'set public_url = "https://..." for production'
    ]


def convert(value: Any, f: dataclasses.Field[Any], place: str) -> Any:
    """Coerce one value to its field's type, or raise a ConfigError saying what is allowed."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    from_env = isinstance(value, EnvValue)
    if isinstance(value, EnvValue):
        place = f"environment variable {value.variable}"
    try:
        result = COERCE[kind](value, from_env)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"config: {place}: {exc}") from None
    choices = f.metadata.get("choices")
    if choices and result not in choices:
        raise ConfigError(
            f"config: {place}: {result!r} is not allowed; use one of {', '.join(choices)}"
        )
    return result


def _str(value: Any, from_env: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text in quotes, got {value!r}")
    return str(value)


def _int(value: Any, from_env: bool) -> int:
    if from_env:
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ValueError(f"expected a whole number, got {value!r}")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value


def _float(value: Any, from_env: bool) -> float:
    if from_env:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _bool(value: Any, from_env: bool) -> bool:
    if from_env:
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"expected true or false, got {value!r}")
        return lowered in ("true", "1", "yes")
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _list(value: Any, from_env: bool) -> list[str]:
    if from_env:
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f'expected a list of texts like ["a", "b"], got {value!r}')
    return list(value)


COERCE = {"str": _str, "int": _int, "float": _float, "bool": _bool, "list[str]": _list}


def build_sources(raw: Any, where: str) -> tuple[SourceSettings, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"config: {where}: sources must be [[sources]] tables")
    sources = []
    for index, table in enumerate(raw, start=1):
        place = f"{where}: [[sources]] #{index}"
        if not isinstance(table, dict):
            raise ConfigError(f"config: {place}: expected a table of keys")
        source = build_section(SourceSettings, table, place, {})
        if not source.name or not source.url:
            raise ConfigError(f"config: {place}: name and url are required")
        try:
            source.every_seconds  # noqa: B018 -- validates the duration
        except ValueError as exc:
            raise ConfigError(f"config: {place} every: {exc}") from None
        sources.append(source)
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"config: {where}: source names must be unique: {duplicates}")
    return tuple(sources)


def validate(settings: Settings, where: str) -> None:
    """Checks that need more than one key's type."""
    try:
        ZoneInfo(settings.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"config: {where}: [site] timezone: {settings.site.timezone!r} is not a known "
            "zone; use an IANA name like Europe/Istanbul"
        ) from None
    check_database_url(settings.database.url, where)
    check_secret_key(settings.web.secret_key)
    check_clock(settings.newsletter.daily_at, f"{where}: [newsletter] daily_at")
    check_category_languages(settings.collect.category_languages, where)
    check_category_names(settings.feeds.category_names, where)
    for key in ("catch_up_grace", "leader_check"):
        try:
            parse_duration(getattr(settings.schedule, key))
        except ValueError as exc:
            raise ConfigError(f"config: {where}: [schedule] {key}: {exc}") from None
    try:
        settings.collect.reconcile_every_seconds  # noqa: B018 -- validates the duration
    except ValueError as exc:
        raise ConfigError(f"config: {where}: [collect] reconcile_every: {exc}") from None
    for name in ("concurrency", "max_attempts", "lease_seconds", "batch_size", "pause_after"):
        if getattr(settings.delivery, name) < 1:
            raise ConfigError(f"config: {where}: [delivery] {name}: must be at least 1")
    if settings.delivery.transport == "smtp" and not settings.delivery.smtp_url:
        raise ConfigError(
            f"config: {where}: [delivery] transport is smtp but smtp_url is empty; "
            "set M5_DELIVERY__SMTP_URL=smtp://user:pass@host:587"
        )


def check_database_url(url: str, where: str) -> None:
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
        raise ConfigError(
            f"config: {where}: [database] url: {redact_url(url)!r} is not a supported URL; "
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/db"
        )


def check_category_languages(entries: list[str], where: str) -> None:
    for entry in entries:
        slug, sep, lang = entry.partition("=")
        if not sep or not slug.strip() or lang.strip() not in LANGUAGES:
            raise ConfigError(
                f"config: {where}: [collect] category_languages: {entry!r} is not "
                f'slug=language; write it like "defence-news=en" ({" or ".join(LANGUAGES)})'
            )


def check_category_names(entries: list[str], where: str) -> None:
    for entry in entries:
        key, sep, name = entry.partition("=")
        slug, colon, lang = key.partition(":")
        if not (sep and colon and slug.strip() and name.strip()) or lang.strip() not in LANGUAGES:
            raise ConfigError(
                f"config: {where}: [feeds] category_names: {entry!r} is not "
                f'slug:language=Name; write it like "one-cikan:en=Featured"'
            )


def check_clock(text: str, place: str) -> None:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ConfigError(f"config: {place}: {text!r} is not a time; write HH:MM like 07:00")


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


def redacted_section(section: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        secret = f.metadata.get("secret")
        if secret == "all" and value:
            value = REDACTED
        elif secret == "password" and value:
            value = redact_url(value)
        values[toml_key(f)] = value
    return values


def documented_keys() -> list[tuple[str, str, str]]:
    """(section, key, help) of every setting; the docs test checks each is documented."""
    rows = []
    for name, cls in [*SECTIONS.items(), ("sources", SourceSettings)]:
        for f in dataclasses.fields(cls):
            rows.append((name, toml_key(f), str(f.metadata["help"])))
    return rows

"""Engines for SQLite (the embedded default) and PostgreSQL (at scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from m5syndicate.config import redact_url
from m5syndicate.errors import StoreError


def make_engine(url: str) -> Engine:
    """An engine with the pragmas we rely on; SQLite's folder is created if missing."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return sqlite_engine(url, parsed.database)
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(False))
    return create_engine(url, pool_pre_ping=True)


def sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets feed readers read while a sender writes; NORMAL is durable in WAL mode
        # across application crashes (only an OS crash may lose the last commits).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def check_connection(engine: Engine) -> None:
    """Raise StoreError with the fix if the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise StoreError(
            f"database: cannot connect to {redact_url(str(engine.url.render_as_string(False)))}: "
            f"{first_line(exc)}; check [database] url (or M5_DATABASE__URL) and that the "
            "server is running"
        ) from exc


def first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return text_.splitlines()[0] if text_ else type(exc).__name__


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("database: an insert returned no primary key")
    return int(key[0])

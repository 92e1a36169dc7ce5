"""Engines for SQLite (the embedded default) and PostgreSQL (at scale). Every engine
translates database errors into StoreErrors (`failures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, make_url

from m5syndicate.errors import DatabaseUnreachable, StoreError
from m5syndicate.store import failures


def make_engine(url: str) -> Engine:
    """An engine with the pragmas we rely on; SQLite's folder is created if missing."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = sqlite_engine(url, parsed.database)
    else:
        if parsed.drivername == "postgresql":
            url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(False))
        engine = create_engine(url, pool_pre_ping=True)
    failures.install(engine)
    return engine


def sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        make_folder(Path(database).parent)
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


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnreachable(
            f"database: cannot create {folder}, the SQLite file's folder ({exc.strerror}); "
            f"choose a writable place: {failures.CHECK_URL}"
        ) from exc


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnreachable (with the fix, from `failures`) if the database cannot
    be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("database: an insert returned no primary key")
    return int(key[0])

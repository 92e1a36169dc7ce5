"""`db upgrade`: run the Alembic migrations shipped in this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from m5syndicate.errors import StoreError
from m5syndicate.store.engine import check_connection
from m5syndicate.store.failures import first_line

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; return (revision before, revision after)."""
    check_connection(engine)
    before = current_revision(engine)
    try:
        command.upgrade(alembic_config(engine), revision)
    except StoreError as exc:  # translated by the engine: it says what to do
        raise StoreError(f"db upgrade: migration failed: {exc}") from exc
    except SQLAlchemyError as exc:  # raised by SQLAlchemy itself, not the database
        raise StoreError(f"db upgrade: migration failed: {first_line(exc)}") from exc
    return before, current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or behind."""
    check_connection(engine)
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}, not {head}"
        raise StoreError(f"database: it {state}; run `m5syndicate db upgrade` first")

"""Migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from m5syndicate.store import migrate
from m5syndicate.store.engine import make_engine
from m5syndicate.store.schema import metadata


def test_upgrade_creates_every_table(engine: Engine) -> None:
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_migrations_match_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    before, after = migrate.upgrade(engine)
    assert before == after == migrate.head_revision()


def test_empty_database_is_refused_with_the_fix(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.require_current(engine)
    except Exception as exc:
        assert "m5syndicate db upgrade" in str(exc)
    else:
        raise AssertionError("an empty database was accepted")
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1

"""Database errors leave the store as StoreErrors that say what to do (store/failures.py),
on real databases: a closed port, a file with no schema, a file another connection holds
locked, a duplicate insert. The cause is kept for --debug."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from m5syndicate.errors import (
    ConstraintViolation,
    DatabaseBusy,
    DatabaseUnreachable,
    SchemaBehind,
)
from m5syndicate.models import Subscriber
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade
from m5syndicate.store.schema import suppressions
from m5syndicate.subscribers import roster

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_closed_port_says_host_port_and_what_to_check() -> None:
    engine = make_engine("postgresql+psycopg://m5:secret@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnreachable) as caught:
        roster.stats(engine)
    message = str(caught.value)
    assert message.startswith("database: cannot connect to 127.0.0.1:1 (")
    assert "is PostgreSQL running? check [database] url / M5_DATABASE__URL" in message
    assert "secret" not in message
    assert caught.value.__cause__ is not None  # --debug shows the driver's error


def test_no_schema_says_run_db_upgrade(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaBehind, match=r"no such table: .*run `m5syndicate db upgrade`"):
        roster.stats(engine)
    engine.dispose()


def test_a_locked_sqlite_file_says_locked_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def impatient(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=100")  # not 30 s in a test

    engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseBusy) as caught, engine.begin() as conn:
            subscriber_store.suppress_addresses(conn, ["a@example.org"], "test", "test", NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "is locked (database is locked)" in str(caught.value)
    assert "Run the command again when it has finished" in str(caught.value)
    engine.dispose()


def test_an_unexpected_duplicate_is_a_constraint_violation(engine: Engine) -> None:
    with engine.begin() as conn:
        subscriber_store.insert_subscriber(conn, Subscriber("a@example.org"), NOW, "test", "v1")
    with pytest.raises(ConstraintViolation, match="broke a constraint"), engine.begin() as conn:
        subscriber_store.insert_subscriber(conn, Subscriber("A@example.org"), NOW, "test", "v1")


def test_one_suppression_writer_ignores_addresses_already_there(engine: Engine) -> None:
    with engine.begin() as conn:
        first = subscriber_store.suppress_addresses(
            conn, ["a@example.org", "b@example.org"], "bounce", "test", NOW
        )
        again = subscriber_store.suppress_addresses(
            conn, ["A@example.org", "c@example.org"], "later", "test", NOW
        )
        reasons = {row.reason for row in conn.execute(suppressions.select())}
    assert (first, again) == (2, 1)
    assert reasons == {"bounce", "later"}  # a's first reason is kept

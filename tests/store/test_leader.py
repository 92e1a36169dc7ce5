"""One leader: PostgreSQL advisory lock (takeover when the leader's session dies) and
SQLite's file lock (a second instance is refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.scheduling.leader import FileLeadership, PostgresLeadership, leadership_for
from m5syndicate.store.engine import make_engine


def test_exactly_one_leader_and_takeover(engine: Engine, database_url: str) -> None:
    other_engine = make_engine(database_url)  # a second process's own connections
    first, second = leadership_for(engine), leadership_for(other_engine)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # still leading
        first.release()  # the leader stops (or dies: its session ends)
        assert second.acquire() is True
    finally:
        first.release()
        second.release()
        other_engine.dispose()


def test_postgres_leader_that_loses_its_connection_steps_down(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    leader = PostgresLeadership(engine)
    assert leader.acquire()
    assert leader.conn is not None
    leader.conn.invalidate()  # the server side closed: like a killed process's session
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))
    other = PostgresLeadership(other_engine)
    try:
        assert other.acquire() is True
        assert leader.acquire() is False
    finally:
        other.release()
        leader.release()
        other_engine.dispose()


def test_sqlite_file_lock_names_the_holder(tmp_path: Path) -> None:
    database = str(tmp_path / "m5.db")
    first, second = FileLeadership(database), FileLeadership(database)
    assert first.acquire() and not second.acquire()
    assert second.holder().isdigit()
    first.release()
    assert second.acquire()
    second.release()

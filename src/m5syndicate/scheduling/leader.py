"""Who fires the jobs. Exactly one `run` process leads:

- on PostgreSQL, the holder of an advisory lock on a dedicated connection; the others
  retry every ``check_seconds`` and take over within that time when the leader dies. A
  database that cannot be reached is raised, not taken for lost leadership, so that
  the leader loop can ride the outage out or stop with one line;
- on SQLite, the holder of an exclusive file lock beside the database; a second `run`
  refuses to start (SQLite is for one process).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from m5syndicate.delivery.outage import is_outage
from m5syndicate.errors import StoreError
from m5syndicate.store import locks


class Leadership(Protocol):
    def acquire(self) -> bool:
        """Try to become (or stay) the leader; True while we lead."""
        ...

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def acquire(self) -> bool:
        try:
            if self.conn is not None:
                if locks.holds_advisory_lock(self.conn):
                    self.conn.commit()
                    return True
                self.drop()  # our session ended: someone else may lead now
                return False
            conn = self.engine.connect()
            if locks.try_advisory_lock(conn):
                conn.commit()
                self.conn = conn
                return True
            conn.close()
            return False
        except (StoreError, SQLAlchemyError) as exc:  # any database trouble: not the leader
            self.drop()
            if is_outage(exc):
                raise  # the database is away: the leader loop rides it out, or stops
            return False

    def drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(StoreError, SQLAlchemyError):
                self.conn.close()
            self.conn = None

    def release(self) -> None:
        if self.conn is not None:
            # If the connection is gone, the lock went with it.
            with contextlib.suppress(StoreError, SQLAlchemyError):
                locks.release_advisory_lock(self.conn)
        self.drop()


class FileLeadership:
    """An flock on ``<database>.run.lock``: held until the process exits."""

    def __init__(self, database_path: str) -> None:
        self.path = Path(f"{database_path}.run.lock")
        self.handle: IO[str] | None = None

    def acquire(self) -> bool:
        if self.handle is not None:
            return True
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def leadership_for(engine: Engine) -> Leadership:
    if engine.dialect.name == "postgresql":
        return PostgresLeadership(engine)
    database = engine.url.database or ""
    if not database or database == ":memory:":
        raise StoreError("run: an in-memory SQLite database cannot be shared; use a file")
    return FileLeadership(database)

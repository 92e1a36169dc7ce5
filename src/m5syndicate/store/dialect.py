"""INSERT ... ON CONFLICT for both databases (the statement differs only by import)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_on_conflict(conn: Connection, table: Table) -> Any:
    """A dialect INSERT with .on_conflict_do_nothing() / .on_conflict_do_update()."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

"""INSERT ... ON CONFLICT for both databases (the statement differs only by import)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_on_conflict(conn: Connection, table: Table) -> Any:
    """A dialect INSERT with .on_conflict_do_nothing() / .on_conflict_do_update()."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Any:
    """The same by dialect name (for statements built once per dialect)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

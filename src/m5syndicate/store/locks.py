"""PostgreSQL advisory locks: one leader among several `run` processes.

A session-level advisory lock lives as long as the connection that took it: when the
leader dies, its connection closes and the lock is free for the next instance.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Any fixed 64-bit number; it names "the m5syndicate scheduler" in pg_locks.
LEADER_LOCK_KEY = 0x6D35_7363_6864  # "m5schd"


def try_advisory_lock(conn: Connection, key: int = LEADER_LOCK_KEY) -> bool:
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def release_advisory_lock(conn: Connection, key: int = LEADER_LOCK_KEY) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def holds_advisory_lock(conn: Connection, key: int = LEADER_LOCK_KEY) -> bool:
    """Whether this very session still holds the lock. A connection that was dropped and
    silently re-opened by the pool is a new session that does not."""
    # A bigint key is stored as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    query = text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = pg_backend_pid() AND objsubid = 1"
        " AND ((classid::bigint << 32) | objid::bigint) = :key)"
    )
    return bool(conn.execute(query, {"key": key}).scalar())

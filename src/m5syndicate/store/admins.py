"""Admin users of the web console: email and an Argon2id hash (hashed by the caller)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import admin_users


@dataclass(frozen=True)
class AdminUser:
    id: int
    email: str
    password_hash: str
    last_login_at: datetime | None = None


def find_admin(conn: Connection, email: str) -> AdminUser | None:
    row = conn.execute(select(admin_users).where(admin_users.c.email == email)).mappings().first()
    return to_admin(row) if row else None


def get_admin(conn: Connection, admin_id: int) -> AdminUser | None:
    row = conn.execute(select(admin_users).where(admin_users.c.id == admin_id)).mappings().first()
    return to_admin(row) if row else None


def to_admin(row: object) -> AdminUser:
    values = dict(row)  # type: ignore[call-overload]
    return AdminUser(
        values["id"], values["email"], values["password_hash"], values["last_login_at"]
    )


def insert_admin(conn: Connection, email: str, password_hash: str, now: datetime) -> int:
    result = conn.execute(
        insert(admin_users).values(email=email, password_hash=password_hash, created_at=now)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_password_hash(conn: Connection, admin_id: int, password_hash: str) -> None:
    conn.execute(
        update(admin_users).where(admin_users.c.id == admin_id).values(password_hash=password_hash)
    )


def set_last_login(conn: Connection, admin_id: int, now: datetime) -> None:
    conn.execute(update(admin_users).where(admin_users.c.id == admin_id).values(last_login_at=now))

"""The audit log of the console: every admin action, who, what, on what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import admin_audit

MAX_TARGET = 500


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    admin_email: str
    action: str
    target: str
    detail: str


def record_action(
    conn: Connection, at: datetime, admin_email: str, action: str, target: str, detail: str = ""
) -> None:
    conn.execute(
        insert(admin_audit).values(
            at=at,
            admin_email=admin_email,
            action=action,
            target=target[:MAX_TARGET],
            detail=detail,
        )
    )


def recent_actions(conn: Connection, limit: int = 200) -> list[AuditEntry]:
    rows = conn.execute(
        select(admin_audit).order_by(admin_audit.c.at.desc(), admin_audit.c.id.desc()).limit(limit)
    ).mappings()
    return [
        AuditEntry(r["at"], r["admin_email"], r["action"], r["target"], r["detail"]) for r in rows
    ]

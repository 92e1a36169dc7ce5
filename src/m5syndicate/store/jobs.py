"""Job rows: what the scheduler ran, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from m5syndicate.store.schema import job_runs


@dataclass(frozen=True)
class JobRun:
    name: str
    last_scheduled_for: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str
    last_error: str
    runs: int
    failures: int
    misses: int


def ensure_job(conn: Connection, name: str) -> None:
    exists = conn.execute(select(job_runs.c.name).where(job_runs.c.name == name)).first()
    if exists is None:
        conn.execute(
            insert(job_runs).values(
                name=name, last_status="", last_error="", runs=0, failures=0, misses=0
            )
        )


def get_job(conn: Connection, name: str) -> JobRun | None:
    row = conn.execute(select(job_runs).where(job_runs.c.name == name)).mappings().first()
    return JobRun(**row) if row else None


def list_jobs(conn: Connection) -> list[JobRun]:
    rows = conn.execute(select(job_runs).order_by(job_runs.c.name)).mappings()
    return [JobRun(**row) for row in rows]


def record_start(conn: Connection, name: str, scheduled_for: datetime, now: datetime) -> None:
    ensure_job(conn, name)
    conn.execute(
        update(job_runs)
        .where(job_runs.c.name == name)
        .values(last_scheduled_for=scheduled_for, last_started_at=now)
    )


def record_end(conn: Connection, name: str, now: datetime, error: str = "") -> None:
    conn.execute(
        update(job_runs)
        .where(job_runs.c.name == name)
        .values(
            last_finished_at=now,
            last_status="failed" if error else "ok",
            last_error=error,
            runs=job_runs.c.runs + 1,
            failures=job_runs.c.failures + (1 if error else 0),
        )
    )


def record_missed(conn: Connection, name: str, scheduled_for: datetime, now: datetime) -> None:
    """A run that was due while we were down, past the grace time: noted, not sent late."""
    ensure_job(conn, name)
    due = scheduled_for.astimezone(UTC)
    conn.execute(
        update(job_runs)
        .where(job_runs.c.name == name)
        .values(
            last_scheduled_for=scheduled_for,
            last_finished_at=now,
            last_status="missed",
            last_error=f"due at {due:%Y-%m-%d %H:%M} UTC while not running",
            misses=job_runs.c.misses + 1,
        )
    )

"""Source rows: fetch state (ETag, cursor) and health (errors, next check)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.config import SourceSettings
from m5syndicate.errors import NotFound
from m5syndicate.models import SourceState
from m5syndicate.store.schema import sources

PROGRESS_FIELDS = {"etag", "last_modified", "cursor", "url"}


def sync_sources(conn: Connection, configured: Iterable[SourceSettings], now: datetime) -> None:
    """Create a row for each configured source. A changed type or URL in the config makes
    it a new upstream: validators, cursor and the first-success mark (backfill) reset. A
    permanent redirect changed only ``url``, not ``configured_url``, so it stays."""
    existing = {row.name: row for row in conn.execute(select(sources)).mappings()}
    for source in configured:
        row = existing.get(source.name)
        if row is None:
            conn.execute(
                insert(sources).values(
                    name=source.name,
                    type=source.type,
                    url=source.url,
                    configured_url=source.url,
                    created_at=now,
                )
            )
        elif (row.type, row.configured_url) != (source.type, source.url):
            conn.execute(
                update(sources)
                .where(sources.c.id == row.id)
                .values(
                    type=source.type,
                    url=source.url,
                    configured_url=source.url,
                    etag="",
                    last_modified="",
                    cursor="",
                    first_success_at=None,
                    next_check_at=None,
                )
            )


def get_source(conn: Connection, name: str) -> SourceState:
    row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"source {name!r} has no row; run `m5syndicate collect` once")
    return to_state(row)


def list_sources(conn: Connection) -> list[SourceState]:
    rows = conn.execute(select(sources).order_by(sources.c.name)).mappings()
    return [to_state(row) for row in rows]


def to_state(row: RowMapping) -> SourceState:
    fields = SourceState.__dataclass_fields__
    return SourceState(**{key: row[key] for key in fields if key in row})


def first_success_at(conn: Connection, name: str) -> datetime | None:
    return conn.execute(
        select(sources.c.first_success_at).where(sources.c.name == name)
    ).scalar_one_or_none()


def save_progress(conn: Connection, name: str, **state: str) -> None:
    """Store a reader's checkpoint (etag, last_modified, cursor, url), in the transaction
    that stored the articles it stands for."""
    unknown = set(state) - PROGRESS_FIELDS
    if unknown:
        raise ValueError(f"not source progress fields: {sorted(unknown)}")
    if state:
        conn.execute(update(sources).where(sources.c.name == name).values(**state))


def record_success(
    conn: Connection, name: str, now: datetime, next_check_at: datetime, **state: str
) -> None:
    """A good run: clear the error count; the first one is remembered (backfill)."""
    save_progress(conn, name, **state)
    conn.execute(
        update(sources)
        .where(sources.c.name == name)
        .values(
            last_checked_at=now,
            last_success_at=now,
            error_count=0,
            last_error="",
            next_check_at=next_check_at,
        )
    )
    conn.execute(
        update(sources)
        .where(sources.c.name == name, sources.c.first_success_at.is_(None))
        .values(first_success_at=now)
    )


def record_failure(
    conn: Connection, name: str, now: datetime, error: str, next_check_at: datetime
) -> int:
    """A failed run is data on the row; return the consecutive error count."""
    conn.execute(
        update(sources)
        .where(sources.c.name == name)
        .values(
            last_checked_at=now,
            last_error=error,
            last_error_at=now,
            error_count=sources.c.error_count + 1,
            next_check_at=next_check_at,
        )
    )
    return int(
        conn.execute(select(sources.c.error_count).where(sources.c.name == name)).scalar_one()
    )


def record_item_errors(conn: Connection, name: str, skipped: Sequence[str]) -> None:
    """The items the last run skipped, each in full (one a line; a reason that spans
    lines is kept on one)."""
    text = "\n".join(" ".join(problem.split()) for problem in skipped)
    conn.execute(update(sources).where(sources.c.name == name).values(item_errors=text))


def item_errors(conn: Connection) -> dict[str, list[str]]:
    """Each source's skipped items of its last run, by source name."""
    rows = conn.execute(select(sources.c.name, sources.c.item_errors))
    return {row.name: row.item_errors.splitlines() for row in rows}

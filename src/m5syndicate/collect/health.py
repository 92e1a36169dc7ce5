"""Each source's health, for `m5syndicate sources` (and the admin API): read only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from m5syndicate.config import SourceSettings
from m5syndicate.store import sources as source_store


@dataclass(frozen=True)
class SourceHealth:
    name: str
    type: str
    url: str  # where it is fetched now (a permanent redirect may have moved it)
    state: str  # "enabled", "disabled", "not in config"
    last_success_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    error_count: int = 0
    next_check_at: datetime | None = None


def source_health(engine: Engine, configured: Sequence[SourceSettings]) -> list[SourceHealth]:
    """Configured sources first (never collected ones too), then rows left from old
    configs."""
    with engine.connect() as conn:
        rows = {state.name: state for state in source_store.list_sources(conn)}
    found = []
    for source in configured:
        row = rows.pop(source.name, None)
        state = "enabled" if source.enabled else "disabled"
        if row is None:
            found.append(SourceHealth(source.name, source.type, source.url, state))
            continue
        found.append(
            SourceHealth(
                row.name,
                row.type,
                row.url,
                state,
                row.last_success_at,
                row.last_error,
                row.last_error_at,
                row.error_count,
                row.next_check_at,
            )
        )
    for row in rows.values():
        found.append(
            SourceHealth(
                row.name, row.type, row.url, "not in config", row.last_success_at, row.last_error
            )
        )
    return found

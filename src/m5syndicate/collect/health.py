"""Each source's health, for `m5syndicate sources` (and the admin API): read only.

Errors are shown whole, never cut: the reason comes first in every message the collector
writes ("collect: HTTP 500 Internal Server Error from <url>; ..."), so a narrow terminal
still shows why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from m5syndicate.config import SourceSettings
from m5syndicate.models import SourceState
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
    skipped_items: list[str] = field(default_factory=list)  # the last run's, in full

    def as_json(self) -> dict[str, Any]:
        """For `sources --json`: times as ISO 8601 UTC (null when never)."""
        found = asdict(self)
        for key, value in found.items():
            if isinstance(value, datetime):
                found[key] = value.isoformat()
        return found


def source_health(engine: Engine, configured: Sequence[SourceSettings]) -> list[SourceHealth]:
    """Configured sources first (never collected ones too), then rows left from old
    configs."""
    with engine.connect() as conn:
        rows = {state.name: state for state in source_store.list_sources(conn)}
        skipped = source_store.item_errors(conn)
    found = []
    for source in configured:
        row = rows.pop(source.name, None)
        state = "enabled" if source.enabled else "disabled"
        if row is None:
            found.append(SourceHealth(source.name, source.type, source.url, state))
            continue
        found.append(health_of(row, state, skipped.get(row.name, [])))
    for row in rows.values():
        found.append(health_of(row, "not in config", skipped.get(row.name, [])))
    return found


def health_of(row: SourceState, state: str, skipped: list[str]) -> SourceHealth:
    return SourceHealth(
        row.name,
        row.type,
        row.url,
        state,
        row.last_success_at,
        row.last_error,
        row.last_error_at,
        row.error_count,
        row.next_check_at,
        skipped,
    )

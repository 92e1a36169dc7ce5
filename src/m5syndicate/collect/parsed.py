"""What every parser returns: the articles it could read and the items it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from m5syndicate.models import Article


@dataclass
class Parsed:
    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<item>: <why>" per item left out
    # What the document as a whole says (a feed's <language>): weaker than an item's own
    # or its text's language, stronger than the source's setting.
    default_language: str = ""


def iso_utc(value: str, naive_is_utc: bool = True) -> datetime:
    """'2026-11-27T06:10:00' (WordPress *_gmt), '...Z' or '...+03:00' -> aware UTC.

    Raises ValueError for text that is not an ISO 8601 date-time."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"{value!r} has no time zone")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)

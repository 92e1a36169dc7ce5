"""CSV import and export of subscribers.

Import reads a header row naming the columns (``email`` is required; ``language``,
``cadence``, ``categories``, ``name``, ``confirmed`` are optional; other columns, such as
those `export` adds, are ignored). Each bad row is reported with its line number and
reason and the good rows are kept; an address already present (or suppressed) is left as
it is, so importing a file twice changes nothing. Rows are written in batches: a few
statements per thousand rows.

Export writes the import columns first (so an export can be imported elsewhere), then
status, dates and the consent events as a JSON array.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.engine import Engine

from m5syndicate.errors import InputError
from m5syndicate.models import Subscriber
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers.subscriptions import (
    MAX_NAME,
    Preferences,
    check_preferences,
    clean_text,
    normalize_email,
)

IMPORT_COLUMNS = ("email", "language", "cadence", "categories", "name", "confirmed")
EXPORT_COLUMNS = (
    *IMPORT_COLUMNS,
    "format",
    "status",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent_events",
)
TRUE_WORDS = {"1", "true", "yes", "y", "evet", "x"}
FALSE_WORDS = {"", "0", "false", "no", "n", "hayır", "hayir"}
BATCH = 1000
MAX_FIELD = 2000  # any cell longer than this is refused before it is parsed


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0  # already subscribers: left untouched
    suppressed: int = 0  # suppressed addresses are never re-added
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


@dataclass(frozen=True)
class Defaults:
    language: str = "tr"
    cadence: str = "daily"


def parse_rows(
    lines: Iterable[str], defaults: Defaults = Defaults()
) -> Iterator[tuple[int, Subscriber | str]]:
    """(line number, subscriber or the reason the row is bad), for each data row."""
    reader = csv.reader(lines)
    header = [name.strip().lower() for name in next(reader, [])]
    if "email" not in header:
        raise InputError(
            "import: the first line must be a header naming the columns, with at least "
            f"`email` (known columns: {', '.join(IMPORT_COLUMNS)})"
        )
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield reader.line_num, f"{len(cells)} cells but the header has {len(header)}"
            continue
        if max(map(len, cells)) > MAX_FIELD:
            yield reader.line_num, f"a cell is longer than {MAX_FIELD} characters"
            continue
        row = dict(zip(header, cells, strict=False))
        try:
            yield reader.line_num, parse_row(row, defaults)
        except InputError as exc:
            yield reader.line_num, str(exc)


def parse_row(row: dict[str, str], defaults: Defaults) -> Subscriber:
    confirmed = row.get("confirmed", "").strip().lower()
    if confirmed not in TRUE_WORDS | FALSE_WORDS:
        raise InputError(f"confirmed {confirmed[:20]!r}: write true or false")
    categories = row.get("categories", "").strip()
    prefs = check_preferences(
        Preferences(
            language=row.get("language", "").strip().lower() or defaults.language,
            cadence=row.get("cadence", "").strip().lower() or defaults.cadence,
            format=row.get("format", "").strip().lower() or "html",
            categories=tuple(re.split(r"[\s,;|]+", categories)) if categories else (),
        )
    )
    return Subscriber(
        email=normalize_email(row.get("email", "")),
        name=clean_text(row.get("name", ""), "name", MAX_NAME),
        status="confirmed" if confirmed in TRUE_WORDS else "pending",
        language=prefs.language,
        cadence=prefs.cadence,
        format=prefs.format,
        categories=list(prefs.categories),
    )


def import_subscribers(
    engine: Engine,
    lines: Iterable[str],
    now: datetime,
    *,
    via: str = "import",
    consent_version: str = "",
    defaults: Defaults = Defaults(),
) -> ImportReport:
    """Add the good rows in batches; report the bad ones. Runs in one transaction per
    batch, so an interrupted import keeps what it wrote and a re-run adds the rest."""
    report = ImportReport()
    seen: dict[str, int] = {}
    batch: list[Subscriber] = []
    for line, parsed in parse_rows(lines, defaults):
        if isinstance(parsed, str):
            report.errors.append((line, parsed))
            continue
        key = subscriber_store.email_key(parsed.email)
        if key in seen:
            report.errors.append((line, f"{parsed.email} repeats line {seen[key]}; skipped"))
            continue
        seen[key] = line
        batch.append(parsed)
        if len(batch) >= BATCH:
            write_batch(engine, batch, now, via, consent_version, report)
            batch = []
    write_batch(engine, batch, now, via, consent_version, report)
    return report


def write_batch(
    engine: Engine,
    batch: list[Subscriber],
    now: datetime,
    via: str,
    consent_version: str,
    report: ImportReport,
) -> None:
    if not batch:
        return
    keys = [subscriber_store.email_key(s.email) for s in batch]
    hashes = [subscriber_store.email_hash(s.email) for s in batch]
    with engine.begin() as conn:
        existing = subscriber_store.existing_keys(conn, keys)
        suppressed = subscriber_store.suppressed_hashes(conn, hashes)
        fresh = [
            s
            for s, key, digest in zip(batch, keys, hashes, strict=True)
            if key not in existing and digest not in suppressed
        ]
        subscriber_store.insert_many(conn, fresh, now, via, consent_version)
    report.added += len(fresh)
    report.existing += len(existing)
    report.suppressed += len(batch) - len(fresh) - len(existing)


def export_subscribers(engine: Engine, out: TextIO, status: str | None = None) -> int:
    """Write every subscriber (or those in one status) with its consent events."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    with engine.connect() as conn:
        batch: list[Subscriber] = []
        for subscriber in subscriber_store.iter_subscribers(conn, status):
            batch.append(subscriber)
            if len(batch) >= BATCH:
                count += write_export_rows(conn, writer, batch)
                batch = []
        count += write_export_rows(conn, writer, batch)
    return count


def write_export_rows(conn: Any, writer: Any, batch: list[Subscriber]) -> int:
    events = subscriber_store.events_of(conn, [s.id for s in batch if s.id is not None])
    for s in batch:
        writer.writerow(export_row(s, events.get(s.id or 0, [])))
    return len(batch)


def export_row(s: Subscriber, events: list[dict[str, Any]]) -> list[str]:
    return [
        s.email,
        s.language,
        s.cadence,
        ",".join(s.categories),
        s.name,
        "true" if s.status == "confirmed" else "false",
        s.format,
        s.status,
        iso(s.created_at),
        iso(s.confirmed_at),
        iso(s.unsubscribed_at),
        json.dumps([{**e, "at": iso(e["at"])} for e in events], ensure_ascii=False),
    ]


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""

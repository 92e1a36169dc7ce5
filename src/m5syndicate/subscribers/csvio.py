"""CSV import and export of subscribers.

Import reads a header row naming the columns (``email`` is required; ``language``,
``cadence``, ``categories``, ``name``, ``confirmed`` are optional; other columns, such as
those `export` adds, are ignored). The delimiter is `,`, `;` (Excel in Turkish and other
locales where the comma is the decimal sign) or a tab: whichever splits the header into
the most column names we know. A UTF-8 byte order mark is skipped. The bytes are decoded
line by line, so an invalid byte costs only the row it is in. Quoting is read strictly: a
quote left open is reported with the line it opened on, instead of the rest of the file
being taken silently as one cell. Each bad row is reported with its line number and
reason and the good rows are kept; an address already present (or suppressed) is left as
it is, so importing a file twice changes nothing. Rows are written in batches: a few
statements per thousand rows.

Export writes the import columns first (so an export can be imported elsewhere), then
status, dates and the consent events as a JSON array. A cell that a spreadsheet would run
as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a CR) gets a leading `'`, which
import removes again, so an export imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
from collections.abc import Collection, Iterable, Iterator
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
    available_categories,
    check_known_categories,
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
DELIMITERS = (",", ";", "\t")  # the first wins a tie
TRUE_WORDS = {"1", "true", "yes", "y", "evet", "x"}
FALSE_WORDS = {"", "0", "false", "no", "n", "hayır", "hayir"}
BATCH = 1000
MAX_FIELD = 2000  # any cell longer than this is refused before it is parsed
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets run as a formula
ESCAPE = "'"  # spreadsheets show a cell after a leading ' as text


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


class DecodedLines:
    """A CSV file's physical lines as text, decoded one by one: a line with an invalid
    byte is passed on with U+FFFD in its place (so the quotes and delimiters around it
    still parse) and remembered in ``bad`` (line number -> reason), so the row holding
    it is refused and every other row is kept."""

    def __init__(self, raw: Iterable[bytes], encoding: str = "utf-8") -> None:
        self.raw = raw
        self.encoding = encoding
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for number, line in enumerate(physical_lines(self.raw), start=1):
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                self.encoding = "utf-8"  # the mark says so, whatever the caller guessed
            try:
                yield line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.bad[number] = undecodable_reason(line, exc)
                yield line.decode(self.encoding, errors="replace")


def physical_lines(raw: Iterable[bytes]) -> Iterator[bytes]:
    """Lines ended by LF, CR LF or a lone CR (old Mac files), as a text editor numbers
    them; the last line counts whether or not a newline ends it."""
    for chunk in raw:
        yield from chunk.splitlines(keepends=True)


def undecodable_reason(line: bytes, exc: UnicodeDecodeError) -> str:
    byte = line[exc.start]
    return (
        f"not {exc.encoding.upper()} text: byte 0x{byte:02X} at byte {exc.start + 1} of the "
        f"line ({exc.reason}); the row is skipped"
    )


def delimiter_of(header_line: str) -> str:
    """`,`, `;` or tab: the one that splits the header into the most known column names."""

    def known_names(delimiter: str) -> int:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(1 for cell in cells if cell.strip().lower() in EXPORT_COLUMNS)

    return max(DELIMITERS, key=known_names)


def parse_rows(
    lines: Iterable[str],
    defaults: Defaults = Defaults(),
    known_categories: Collection[str] | None = None,
) -> Iterator[tuple[int, Subscriber | str]]:
    """(line number, subscriber or the reason the row is bad), for each data row.

    With ``known_categories``, a row choosing any other category is bad.
    """
    undecodable = lines.bad if isinstance(lines, DecodedLines) else {}
    stream = iter(lines)
    first = next(stream, "").removeprefix("\ufeff")  # a UTF-8 byte order mark
    reader = csv.reader(
        itertools.chain([first], stream), delimiter=delimiter_of(first), strict=True
    )
    header = read_header(reader, undecodable.get(1, ""))
    end = reader.line_num
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield start, quoting_problem(exc, start, end)
            continue
        end = reader.line_num
        bad_line = next((n for n in range(start, end + 1) if n in undecodable), None)
        if bad_line is not None:
            yield bad_line, undecodable[bad_line]
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield end, f"{len(cells)} cells but the header has {len(header)}"
            continue
        if max(map(len, cells)) > MAX_FIELD:
            yield end, f"a cell is longer than {MAX_FIELD} characters"
            continue
        row = dict(zip(header, map(unescape_formula, cells), strict=False))
        try:
            yield end, parse_row(row, defaults, known_categories)
        except InputError as exc:
            yield end, str(exc)


def read_header(reader: Any, undecodable: str) -> list[str]:
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as exc:
        raise InputError(f"import: line 1 (the header) cannot be read: {exc}") from None
    if "email" not in header:
        binary = (
            f"; line 1 is {undecodable.removesuffix('; the row is skipped')}: is this a "
            'spreadsheet (.xlsx) rather than CSV? Save it as "CSV UTF-8"'
            if undecodable
            else ""
        )
        raise InputError(
            "import: the first line must be a header naming the columns, with at least "
            f"`email` (known columns: {', '.join(IMPORT_COLUMNS)}), separated by `,`, `;` "
            f"or tabs{binary}"
        )
    return header


def quoting_problem(exc: csv.Error, start: int, end: int) -> str:
    lines = f"line {start}" if start == end else f"lines {start}-{end}"
    if "unexpected end of data" in str(exc):
        return (
            "a quote opened on this line is never closed: everything from here to the end "
            f"of the file ({lines}) was read as one row and is skipped; close the quote"
        )
    return (
        f"bad quoting ({exc}) in {lines}, skipped: a cell that starts with a quote must "
        'end with one, followed by the delimiter; write "" for a quote inside it'
    )


def parse_row(
    row: dict[str, str], defaults: Defaults, known_categories: Collection[str] | None = None
) -> Subscriber:
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
    if known_categories is not None:
        check_known_categories(prefs.categories, known_categories)
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
    batch, so an interrupted import keeps what it wrote and a re-run adds the rest.

    The categories a row may choose are those the subscribe form offers."""
    report = ImportReport()
    seen: dict[str, int] = {}
    batch: list[Subscriber] = []
    known = {category.slug for category in available_categories(engine)}
    for line, parsed in parse_rows(lines, defaults, known):
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
    cells = [
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
    return [escape_formula(cell) for cell in cells]


def escape_formula(cell: str) -> str:
    """A leading ' before what a spreadsheet would run as a formula (OWASP's advice
    against CSV injection), and before an escape already there, so `unescape_formula`
    gives back exactly the original."""
    if cell.startswith(FORMULA_STARTS) or is_escaped(cell):
        return ESCAPE + cell
    return cell


def unescape_formula(cell: str) -> str:
    return cell[1:] if is_escaped(cell) else cell


def is_escaped(cell: str) -> bool:
    return cell.startswith(ESCAPE) and cell[1:2] in (*FORMULA_STARTS, ESCAPE)


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""

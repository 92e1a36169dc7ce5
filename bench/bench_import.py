"""Benchmark: `subscribers import` of 100,000 CSV rows (target: under 10 s).

A = m5syndicate's import (parse, validate each address, skip existing/suppressed, write
subscribers + categories + consent events in batches) into a freshly migrated SQLite
file. B = a raw baseline on the same machine: csv.reader and sqlite3 executemany of the
same rows into the same tables, no validation. Runs alternate A B A B; medians of 5.
Appends the figures to BENCHMARKS.md.

    PYTHONPATH=src python bench/bench_import.py [--rows 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from machine import cpu_model

from m5syndicate import __version__
from m5syndicate.config import SourceSettings
from m5syndicate.models import Article, Category
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade
from m5syndicate.subscribers.csvio import DecodedLines, import_subscribers

ROOT = Path(__file__).resolve().parent.parent
HEADER = "email,language,cadence,categories,name,confirmed\n"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(rows):
            lang = "tr" if i % 3 else "en"
            cats = "defence-news" if i % 2 else '"defence-news,one-cikan"'
            out.write(
                f"reader{i}@mail{i % 500}.example.org,{lang},daily,{cats},Okur {i},{i % 4 != 0}\n"
            )


def fresh_database(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}"
    engine = make_engine(url)
    upgrade(engine)
    collected_categories(engine)
    engine.dispose()
    return url


def collected_categories(engine: sqlalchemy.Engine) -> None:
    """One collected article in the rows' categories: import accepts only known ones."""
    now = datetime.now(UTC)
    article = Article(
        guid="bench-1",
        url="https://m5.test/bench-1/",
        title="Bench",
        content_html="<p>x</p>",
        summary="x",
        language="tr",
        published_at=now,
        updated_at=now,
        categories=[Category("defence-news", "Defence News"), Category("one-cikan", "Öne Çıkan")],
    )
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name="bench", type="feed", url="x")], now)
        source_id = sources.get_source(conn, "bench").id or 0
        article_store.upsert_articles(conn, source_id, [article], now)


def run_m5(csv_path: Path, url: str) -> float:
    engine = make_engine(url)
    start = time.perf_counter()
    with csv_path.open("rb") as handle:  # as `subscribers import` reads it
        report = import_subscribers(engine, DecodedLines(handle), datetime.now(UTC))
    elapsed = time.perf_counter() - start
    engine.dispose()
    assert not report.errors and report.added > 0, report.errors[:3]
    return elapsed


def time_reimport(csv_path: Path, url: str) -> float:
    engine = make_engine(url)
    start = time.perf_counter()
    with csv_path.open("rb") as handle:  # as `subscribers import` reads it
        report = import_subscribers(engine, DecodedLines(handle), datetime.now(UTC))
    engine.dispose()
    assert report.added == 0
    return time.perf_counter() - start


def run_raw(csv_path: Path, url: str) -> float:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    start = time.perf_counter()
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = [
            (r[0], r[0].lower(), r[4], r[1], r[2], "html", "confirmed", 1, now, now) for r in reader
        ]
    with db:
        db.executemany(
            "INSERT INTO subscribers (email, email_key, name, language, cadence, format, "
            "status, token_version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute(
            "INSERT INTO consent_events (subscriber_id, kind, at, ip, user_agent, via, "
            "consent_version, detail) SELECT id, 'import', ?, '', '', 'import', '', '' "
            "FROM subscribers",
            (now,),
        )
        db.execute(
            "INSERT INTO subscriber_categories (subscriber_id, slug) "
            "SELECT id, 'defence-news' FROM subscribers"
        )
    db.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "subscribers.csv"
        write_csv(csv_path, args.rows)
        m5_times, raw_times = [], []
        for run in range(args.runs):
            m5_times.append(run_m5(csv_path, fresh_database(folder, f"a{run}.db")))
            raw_times.append(run_raw(csv_path, fresh_database(folder, f"b{run}.db")))
            print(f"run {run + 1}: m5 {m5_times[-1]:.2f} s, raw {raw_times[-1]:.2f} s", flush=True)
        repeat = time_reimport(csv_path, f"sqlite:///{folder / 'a0.db'}")
    ratios = [a / b for a, b in zip(m5_times, raw_times, strict=True)]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"\n### subscribers import, {args.rows:,} CSV rows, SQLite "
        f"({datetime.now(UTC):%Y-%m-%d}, nproc {os.cpu_count()}, "
        f"{cpu_model()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, m5syndicate {__version__})\n",
        "| what | median | min | max |",
        "|---|---|---|---|",
        row("m5syndicate import (validated, batched)", m5_times),
        row("raw baseline (csv + sqlite3 executemany, no checks)", raw_times),
        f"| ratio m5 / raw (median of per-run ratios) | {statistics.median(ratios):.2f}x | "
        f"{min(ratios):.2f}x | {max(ratios):.2f}x |",
        f"\nRe-importing the same file into a full database: {repeat:.2f} s (adds nothing). "
        f"Peak RSS of the benchmark process: {peak_mb:.0f} MB. Target: under 10 s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        target = ROOT / "BENCHMARKS.md"
        if not target.exists():
            target.write_text("# Benchmarks\n\nFigures appended by the scripts in bench/.\n")
        with target.open("a", encoding="utf-8") as out:
            out.write(text)


def row(name: str, times: list[float]) -> str:
    return (
        f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s |"
    )


if __name__ == "__main__":
    sys.exit(main())

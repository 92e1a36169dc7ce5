"""Benchmark: the ledger at a million rows on PostgreSQL, and `send --processes N`.

    .venv/bin/python bench/bench_claims.py [--database-url postgresql+psycopg://...]
        [--rows 1000000] [--messages 30000] [--runs 3] [--processes 1,2,4] [--no-write]
        [--src ../wt-before]

`--src DIR` runs all of it (seeding, the ledger, `send`) with the code of another
checkout: the same bench before and after a change.

In a fresh PostgreSQL schema (dropped at the end): 1,000,000 confirmed subscribers and
one frozen daily edition with a ledger row each. Then:

1. EXPLAIN (ANALYZE, BUFFERS) of the statement `claim_batch` really sends (captured from
   the driver, run in a transaction that is rolled back), on a fresh ledger, with half and
   with 90% of it sent (the sent rows ahead of the pending ones in id order, as in a send;
   VACUUM ANALYZE first, so the planner's statistics are fresh).
2. The ledger alone, no mail: 1, 2 and 4 processes each claiming batches and recording
   them sent as a sending process does (`claim_batch`, `delivered_hashes`, then
   `record_outcomes` 8 per commit, with 10 articles each): rows/s and PostgreSQL's CPU.
3. Mail: rounds alternating A) the raw baseline, aiosmtplib `sendmail(bytes)` of one
   pre-built digest over 16 connections in one process, and B) `m5syndicate send
   --processes N --limit M` through the CLI for each N (and N=2 with DKIM RSA-2048),
   against Postfix's smtp-sink; msg/s from the wall time of each command, the ledger's
   row writes/s from pg_stat_user_tables, and how busy the machine was meanwhile.
Appends the figures to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from bench_send import (
    articles,
    code_under_test,
    dkim_key_file,
    ensure_sink,
    free_port,
    run_baseline,
    start_sink,
)
from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
SRC = code_under_test() / "src"  # --src DIR: everything with another checkout's code
sys.path.insert(0, str(SRC))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy import inspect as inspect_schema  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from m5syndicate.config import SourceSettings, load_settings  # noqa: E402
from m5syndicate.delivery.send import SendOptions, open_due_editions  # noqa: E402
from m5syndicate.models import utcnow  # noqa: E402
from m5syndicate.store import articles as article_store  # noqa: E402
from m5syndicate.store import deliveries as ledger  # noqa: E402
from m5syndicate.store import migrate, sources  # noqa: E402
from m5syndicate.store.deliveries import Outcome  # noqa: E402
from m5syndicate.store.engine import make_engine  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-key-0123456789abcdef-0123"
CONNECTIONS = 16


# --- the database -------------------------------------------------------------------


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    schema = f"m5_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed(url: str, rows: int, env: dict[str, str]) -> int:
    """Subscribers made inside the database (generate_series), then the edition frozen
    and its ledger filled by the production code (`open_due_editions`)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name="wp", type="feed", url="x")], now)
        source_id = sources.get_source(conn, "wp").id or 0
        article_store.upsert_articles(conn, source_id, articles(now), now)
        conn.execute(
            text(
                "INSERT INTO subscribers (email, email_key, name, language, cadence, format,"
                " status, token_version, created_at, updated_at)"
                " SELECT 'okur' || n || '@example.org', 'okur' || n || '@example.org', '',"
                " 'tr', 'daily', 'html', 'confirmed', 1, :now, :now"
                " FROM generate_series(1, :rows) AS n"
            ),
            {"now": now, "rows": rows},
        )
    settings = load_settings(path=None, env=env)
    opened = asyncio.run(open_due_editions(engine, settings, now, SendOptions(("daily",))))
    [edition] = opened.editions
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return edition.edition.id or 0


def set_finished(engine: Engine, edition_id: int, fraction: float) -> None:
    """The first `fraction` of the ledger (by id) sent, the rest pending; then ANALYZE,
    as autovacuum would after that many changes."""
    with engine.begin() as conn:
        low, high = conn.execute(
            text("SELECT min(id), max(id) FROM deliveries WHERE edition_id = :e"),
            {"e": edition_id},
        ).one()
        cut = low + int((high - low + 1) * fraction)
        conn.execute(
            text(
                "UPDATE deliveries SET state = CASE WHEN id < :cut THEN 'sent' ELSE 'pending'"
                " END, lease_until = NULL, claimed_by = '', next_attempt_at = NULL"
                " WHERE edition_id = :e"
            ),
            {"cut": cut, "e": edition_id},
        )
        forget_what_reached_whom(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE deliveries"))


def forget_what_reached_whom(conn: Any) -> None:
    """No marks left from an earlier part of the bench (they would make `send` skip
    everyone): on the row since migration 0010, in delivered_articles before it."""
    tables = inspect_schema(conn)
    if "delivered_articles" in tables.get_table_names():
        conn.execute(text("DELETE FROM delivered_articles"))
    if "sent_articles" in {c["name"] for c in tables.get_columns("deliveries")}:
        conn.execute(text("UPDATE deliveries SET sent_articles = '' WHERE sent_articles != ''"))


# --- 1. EXPLAIN of the claim ----------------------------------------------------------


def captured_claim(engine: Engine, edition_id: int, batch: int) -> tuple[str, Any]:
    """The UPDATE that `claim_batch` really sends, with its parameters (rolled back)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES"):
            captured.append((statement, params))

    now = utcnow()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            ledger.claim_batch(conn, edition_id, "explain", now, now + timedelta(seconds=30), batch)
            transaction.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return captured[0]


def explain_claim(engine: Engine, edition_id: int, batch: int) -> str:
    statement, params = captured_claim(engine, edition_id, batch)
    with engine.connect() as conn:
        transaction = conn.begin()
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        lines = [row[0] for row in plan]
        transaction.rollback()
    return "\n".join(lines)


def claim_statement(engine: Engine, edition_id: int) -> str:
    statement, _ = captured_claim(engine, edition_id, 1)
    return " ".join(statement.split())


# --- 2. the ledger alone --------------------------------------------------------------


OUTCOME_BATCH = 8  # outcomes per commit: a process's share of 16 connections, of 2


def ledger_worker(url: str, edition_id: int, batch: int, rows: int, queue: Any) -> None:
    """Claim batches of ``batch`` and record them sent, OUTCOME_BATCH per commit and each
    with the edition's articles, as a sending process does (without the mail), until
    `rows` are done; report the time and the PostgreSQL backend's CPU."""
    engine = make_engine(url)
    worker = f"bench:{os.getpid()}"
    done = claims = 0
    claim_seconds = write_seconds = 0.0
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        carried = [
            tuple(row) for row in conn.execute(text("SELECT id, content_hash FROM articles"))
        ]
    backend_cpu = cpu_seconds_of(backend)
    while done < rows:
        now = utcnow()
        started = time.perf_counter()
        with engine.begin() as conn:
            batch_rows = ledger.claim_batch(
                conn, edition_id, worker, now, now + timedelta(seconds=30), batch
            )
            ids = [r.subscriber_id for r in batch_rows]
            previous_marks(conn, ids, [a for a, _ in carried], edition_id)
        claimed = time.perf_counter()
        if not batch_rows:
            break
        for start in range(0, len(batch_rows), OUTCOME_BATCH):
            outcomes = [
                Outcome(
                    r.delivery_id,
                    r.subscriber_id,
                    "sent",
                    smtp_code=250,
                    message_id=f"<{r.delivery_id}@bench>",
                    articles=carried,
                )
                for r in batch_rows[start : start + OUTCOME_BATCH]
            ]
            with engine.begin() as conn:
                ledger.record_outcomes(conn, outcomes, utcnow(), worker)
        claim_seconds += claimed - started
        write_seconds += time.perf_counter() - claimed
        done += len(batch_rows)
        claims += 1
    backend_cpu = cpu_seconds_of(backend) - backend_cpu
    engine.dispose()
    queue.put(
        {
            "rows": done,
            "claims": claims,
            "claim_s": claim_seconds,
            "write_s": write_seconds,
            "pg_cpu_s": backend_cpu,
        }
    )


def previous_marks(conn: Any, ids: list[int], article_ids: list[int], edition_id: int) -> None:
    """What the runner reads per claim: what these subscribers got before (code before
    migration 0010 took no edition to leave out)."""
    if "edition_id" in inspect.signature(ledger.delivered_hashes).parameters:
        ledger.delivered_hashes(conn, ids, article_ids, edition_id)
    else:
        ledger.delivered_hashes(conn, ids, article_ids)


def cpu_seconds_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ledger_capacity(url: str, edition_id: int, processes: int, rows: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    share = rows // processes
    children = [
        context.Process(target=ledger_worker, args=(url, edition_id, 500, share, queue))
        for _ in range(processes)
    ]
    started = time.perf_counter()
    for child in children:
        child.start()
    results = [queue.get(timeout=900) for _ in children]
    for child in children:
        child.join()
    elapsed = time.perf_counter() - started
    done = sum(r["rows"] for r in results)
    claims = sum(r["claims"] for r in results)
    return {
        "processes": processes,
        "rows_per_s": done / elapsed,
        "claims_per_s": claims / elapsed,
        "claim_ms": 1000 * sum(r["claim_s"] for r in results) / claims,
        "write_ms": 1000 * sum(r["write_s"] for r in results) / claims,
        "pg_ms_per_row": 1000 * sum(r["pg_cpu_s"] for r in results) / done,
    }


# --- 3. mail --------------------------------------------------------------------------


def send_env(url: str, port: int, dkim_key: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "M5_DATABASE__URL": url,
        "M5_DELIVERY__TRANSPORT": "smtp",
        "M5_DELIVERY__SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=off",
        "M5_DELIVERY__CONCURRENCY": str(CONNECTIONS),
        "M5_NEWSLETTER__FROM": "M5 Dergi <bulten@example.org>",
        "M5_NEWSLETTER__POSTAL_ADDRESS": "M5 Dergi, Örnek Sokak 1, 06000 Ankara, Türkiye",
        "M5_SITE__PUBLIC_URL": "https://bulten.example.org",
        "M5_SECRET_KEY": SECRET,
    }
    env.pop("M5_CONFIG", None)
    if dkim_key:
        env.update(
            M5_DKIM__DOMAIN="example.org",
            M5_DKIM__SELECTOR="bench",
            M5_DKIM__PRIVATE_KEY_FILE=dkim_key,
        )
    return env


def sample_message(url: str, port: int, folder: Path) -> bytes:
    """One digest exactly as `send` builds it (one real delivery, into an outbox)."""
    outbox = folder / "outbox"
    env = send_env(url, port)
    env.update(M5_DELIVERY__TRANSPORT="outbox", M5_DELIVERY__OUTBOX_DIR=str(outbox))
    command = [sys.executable, "-m", "m5syndicate", "send", "--processes", "1", "--limit", "1"]
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    return next((outbox / "new").glob("*.eml")).read_bytes()


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def table_writes(url: str) -> float:
    """Rows updated or inserted so far in the ledger's tables of this schema."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = conn.execute(
            text(
                "SELECT coalesce(sum(n_tup_upd + n_tup_ins), 0) FROM pg_stat_user_tables"
                " WHERE relname = 'deliveries'"
                " AND schemaname = current_schema()"
            )
        ).scalar_one()
    engine.dispose()
    return float(value)


def process_cpu(sink_pid: int) -> tuple[float, float]:
    """CPU seconds so far of (PostgreSQL, smtp-sink). PostgreSQL's: every process named
    postgres, with what its ended children used (a backend that exits is counted in
    the postmaster's cutime/cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    postgres = sink = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if name == "postgres":
            postgres += sum(int(f) for f in fields[11:15]) / tick
        elif int(entry.name) == sink_pid:
            sink += (int(fields[11]) + int(fields[12])) / tick
    return postgres, sink


def timed(command: list[str], env: dict[str, str], sink_pid: int) -> dict[str, float]:
    before_cpu, before_busy = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy()
    before_pg, before_sink = process_cpu(sink_pid)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    after_cpu, after_busy = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_busy()
    ours = (after_cpu.ru_utime - before_cpu.ru_utime) + (after_cpu.ru_stime - before_cpu.ru_stime)
    busy = (after_busy[0] - before_busy[0]) / max(after_busy[1] - before_busy[1], 1)
    after_pg, after_sink = process_cpu(sink_pid)
    return {
        "seconds": elapsed,
        "our_cpu_s": ours,
        "pg_cpu_s": after_pg - before_pg,
        "sink_cpu_s": after_sink - before_sink,
        "machine_busy": busy,
        "out": done.stdout,
    }


def run_send(
    url: str, port: int, processes: int, messages: int, dkim: str, sink_pid: int
) -> dict[str, Any]:
    command = [sys.executable, "-m", "m5syndicate", "send", "--cadence", "daily"]
    command += ["--processes", str(processes), "--limit", str(messages)]
    writes_before = table_writes(url)
    found = timed(command, send_env(url, port, dkim), sink_pid)
    time.sleep(1.2)  # statistics reach pg_stat after at most a second
    writes = table_writes(url) - writes_before
    sent = sent_in(str(found.pop("out")))
    found.update(sent=sent, rate=sent / found["seconds"], writes_per_s=writes / found["seconds"])
    return found


def sent_in(summary: str) -> int:
    for line in summary.splitlines():
        if line.startswith("daily-"):
            return int(line.split()[2])
    raise RuntimeError(f"no summary in: {summary[-500:]}")


def run_raw(port: int, message: Path, messages: int, sink_pid: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "baseline", "--port", str(port)]
    command += ["--message", str(message), "--count", str(messages)]
    found = timed(command, dict(os.environ), sink_pid)
    sent = json.loads(str(found.pop("out")).strip().splitlines()[-1])["sent"]
    found.update(sent=sent, rate=sent / found["seconds"], writes_per_s=0.0)
    return found


# --- the whole run --------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("M5_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--ledger-rows", type=int, default=100_000, help="rows per capacity run")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument(
        "--src", help="run it all with another checkout's code (e.g. a worktree of main)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--message", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "baseline":
        message = Path(args.message).read_bytes()
        sent = asyncio.run(run_baseline(args.port, CONNECTIONS, message, args.count))
        print(json.dumps({"sent": sent}))
        return
    ensure_sink()
    folder = Path(tempfile.mkdtemp(prefix="m5claims-"))
    port = free_port()
    sink = start_sink(port)
    try:
        with fresh_schema(args.database_url) as url:
            results = bench(args, url, port, folder, sink.pid)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    report(args, results)


def bench(
    args: argparse.Namespace, url: str, port: int, folder: Path, sink_pid: int
) -> dict[str, Any]:
    counts = [int(n) for n in args.processes.split(",")]
    started = time.perf_counter()
    edition_id = seed(url, args.rows, send_env(url, port))
    print(
        f"seeded {args.rows:,} subscribers and ledger rows in {time.perf_counter() - started:.0f} s"
    )
    engine = make_engine(url)
    results: dict[str, Any] = {"statement": claim_statement(engine, edition_id), "plans": {}}
    for label, fraction in (("fresh ledger", 0.0), ("half of it sent", 0.5), ("90% sent", 0.9)):
        set_finished(engine, edition_id, fraction)
        results["plans"][label] = explain_claim(engine, edition_id, 500)
        print(f"EXPLAIN, {label}:\n{results['plans'][label]}\n", flush=True)
    set_finished(engine, edition_id, 0.0)
    results["ledger"] = []
    for processes in counts:
        found = ledger_capacity(url, edition_id, processes, args.ledger_rows)
        results["ledger"].append(found)
        print(f"ledger alone, {processes} processes: {found}", flush=True)
    set_finished(engine, edition_id, 0.0)
    engine.dispose()
    message = folder / "message.eml"
    message.write_bytes(sample_message(url, port, folder))
    key = str(dkim_key_file(folder))
    kinds = [("raw", 1, "")] + [(f"send {n}", n, "") for n in counts] + [("send 2 dkim", 2, key)]
    rounds: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _, _ in kinds}
    for round_ in range(args.runs):
        for kind, processes, dkim in kinds:
            if kind == "raw":
                found = run_raw(port, message, args.messages, sink_pid)
            else:
                found = run_send(url, port, processes, args.messages, dkim, sink_pid)
            rounds[kind].append(found)
            print(
                f"round {round_ + 1} {kind:12} {found['rate']:7.0f} msg/s "
                f"ledger writes {found['writes_per_s']:7.0f}/s machine busy "
                f"{found['machine_busy']:.0%} CPU ms/msg {cpu_cell(found)}",
                flush=True,
            )
    results["rounds"] = rounds
    results["message_bytes"] = len(message.read_bytes())
    return results


def median_cpu(rounds: list[dict[str, Any]]) -> str:
    per = {key: statistics.median(r[key] / max(r["sent"], 1) for r in rounds) for key in CPU_KEYS}
    return " / ".join(f"{1000 * per[key]:.2f}" for key in CPU_KEYS)


CPU_KEYS = ("our_cpu_s", "pg_cpu_s", "sink_cpu_s")


def code_version() -> str:
    """The commit of the code under test, and whether its tree had changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=SRC, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", ".") else ""
    return f"{git('rev-parse', '--short', 'HEAD')}{dirty} ({SRC.parent})"


def cpu_cell(found: dict[str, Any]) -> str:
    """CPU per message sent: ours (the command's processes) / PostgreSQL / smtp-sink."""
    sent = max(found["sent"], 1)
    parts = (found["our_cpu_s"], found["pg_cpu_s"], found["sink_cpu_s"])
    return " / ".join(f"{1000 * part / sent:.2f}" for part in parts)


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    rounds = results["rounds"]
    raw = [r["rate"] for r in rounds["raw"]]
    lines = [
        f"\n### bench/bench_claims.py: {args.rows:,} ledger rows on PostgreSQL, "
        f"`send --processes N` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Code: {code_version()}. "
        f"Machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {platform.python_version()}, "
        f"SQLAlchemy {metadata.version('sqlalchemy')}, psycopg {metadata.version('psycopg')}, "
        f"aiosmtplib {metadata.version('aiosmtplib')}; PostgreSQL on the same machine; sink: "
        f"Postfix smtp-sink; message {results['message_bytes']:,} bytes; {CONNECTIONS} "
        f"connections in all (split among the processes).\n",
        f"The claim statement: `{results['statement']}`\n",
    ]
    for label, plan in results["plans"].items():
        lines += [f"EXPLAIN (ANALYZE, BUFFERS), {label}, batch of 500:\n", "```", plan, "```\n"]
    lines += [
        f"The ledger alone ({args.ledger_rows:,} rows claimed in batches of 500, with the "
        f"read of what each subscriber got before, and recorded sent {OUTCOME_BATCH} per "
        "commit, each carrying the edition's 10 articles; no mail):\n",
        "| processes | rows/s | claims/s | ms per claim | ms to record a claim's 500 "
        "| PostgreSQL CPU ms per row |",
        "|---|---|---|---|---|---|",
    ]
    for found in results["ledger"]:
        lines.append(
            f"| {found['processes']} | {found['rows_per_s']:,.0f} | {found['claims_per_s']:.1f} "
            f"| {found['claim_ms']:.1f} | {found['write_ms']:.1f} | {found['pg_ms_per_row']:.3f} |"
        )
    lines += [
        f"\nMail, {args.messages:,} messages per run, {args.runs} rounds alternating the "
        "runs below; medians (min-max); `send` timed as the whole command (start, spawn, "
        "summary); ledger writes = rows updated or inserted in deliveries per second "
        "(pg_stat_user_tables); machine busy = all CPUs, ours and others'; CPU per message "
        "(ms, medians): ours (the command's processes, start-up included) / PostgreSQL's "
        "/ smtp-sink's:\n",
        "| run | msg/s | vs raw (median of ratios) | ledger writes/s | machine busy "
        "| CPU ms/msg ours / PostgreSQL / sink |",
        "|---|---|---|---|---|---|",
    ]
    for kind, found in rounds.items():
        rates = [r["rate"] for r in found]
        ratio = statistics.median([r / b for r, b in zip(rates, raw, strict=True)])
        target = ""
        if kind == "send 2":
            target = " (target >= 1.6)"
        elif kind == "send 2 dkim":
            target = " (target >= 1.2)"
        busy = statistics.median([r["machine_busy"] for r in found])
        writes = statistics.median([r["writes_per_s"] for r in found])
        name = "raw aiosmtplib sendmail(bytes), 1 process" if kind == "raw" else f"`{kind}`"
        lines.append(
            f"| {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) "
            f"| {ratio:.2f}{target} | {writes:,.0f} | {busy:.0%} | {median_cpu(found)} |"
        )
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if not args.no_write:
        with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            handle.write(text_out)


if __name__ == "__main__":
    main()

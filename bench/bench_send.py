"""Benchmark: `send_due` to Postfix's smtp-sink, beside a raw aiosmtplib baseline.

    .venv/bin/python bench/bench_send.py [--subscribers 20000] [--runs 5]
        [--connections 16] [--baseline-src ../wt-main] [--memory [--memory-subscribers N]]
        [--memory-postgresql URL [--no-memory-sqlite]] [--no-write]

Each round runs, in fresh processes: A) the baseline, aiosmtplib `sendmail(bytes)` of one
pre-built digest over the same number of connections; B) `send_due` (10-article digest,
HTML + text, personalised links, ledger on SQLite); C) the same with DKIM (RSA-2048).
Rounds alternate A B C, A B C...; the figures are medians, with the median of the
per-round ratios. `--baseline-src DIR` adds B0 and C0 to every round: the same runs with
the code of another checkout (e.g. a worktree of main), for a before/after in one run.
`--memory` also compares the peak RSS of B at 10x the subscribers (or
`--memory-subscribers`, e.g. 1000000 for the documented long run).

Peak RSS is the child's own high-water mark (VmHWM of /proc/self/status). Not
`ru_maxrss`: a child started by fork/vfork + exec inherits the parent's high-water mark
into it, so it reported the parent's seeding of 200,000 subscribers (the +81% of issue 14).
Needs smtp-sink: it is fetched with `apt-get download postfix` into /tmp/pfx if missing
(no mail daemon is installed). Appends the results to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def code_under_test() -> Path:
    """The checkout whose code a run imports: ``--src DIR`` (a child measuring the
    baseline code), else this one."""
    if "--src" in sys.argv:
        return Path(sys.argv[sys.argv.index("--src") + 1]).resolve()
    return ROOT


sys.path.insert(0, str(code_under_test() / "src"))

from aiosmtplib import SMTP  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from sqlalchemy import insert, make_url, text  # noqa: E402

from m5syndicate.collect.clean import content_hash  # noqa: E402
from m5syndicate.config import SourceSettings, load_settings  # noqa: E402
from m5syndicate.delivery.send import SendOptions, send_due  # noqa: E402
from m5syndicate.models import Article, Category  # noqa: E402
from m5syndicate.runtime import Runtime  # noqa: E402
from m5syndicate.store import articles as article_store  # noqa: E402
from m5syndicate.store import migrate, sources  # noqa: E402
from m5syndicate.store.engine import make_engine  # noqa: E402
from m5syndicate.store.schema import subscribers  # noqa: E402

PFX = Path("/tmp/pfx")
SINK = PFX / "root/usr/sbin/smtp-sink"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SECRET = "bench-secret-key-0123456789abcdef-0123"
PARAGRAPH = (
    "Milli imkânlarla inşa edilen yeni nesil korvet projesinin ilk gemisi, Marmara "
    "Denizi'nde gerçekleştirilen liman dışı seyir testlerini başarıyla tamamladı. "
)


def ensure_sink() -> None:
    if SINK.exists():
        return
    PFX.mkdir(parents=True, exist_ok=True)
    print("fetching smtp-sink: apt-get download postfix (no daemon is installed)")
    subprocess.run(["apt-get", "download", "postfix"], cwd=PFX, check=True)
    deb = next(PFX.glob("postfix_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(PFX / "root")], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LD_LIBRARY_PATH": str(PFX / "root/usr/lib/postfix")}
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([str(SINK), *user, f"127.0.0.1:{port}", "1024"], env=env)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return sink
        time.sleep(0.05)
    raise RuntimeError("smtp-sink did not start")


# --- the database: seeded once, copied per run -------------------------------------


def database_url(db: Path | str) -> str:
    """A SQLite file, or a database URL as it is (PostgreSQL: a schema of its own)."""
    return str(db) if "://" in str(db) else f"sqlite:///{db}"


def seed(path: Path | str, count: int) -> None:
    engine = make_engine(database_url(path))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name="wp", type="feed", url="x")], NOW)
        source_id = sources.get_source(conn, "wp").id or 0
        article_store.upsert_articles(conn, source_id, articles(), NOW)
        for start in range(0, count, 10_000):  # in chunks: a million rows stay small
            conn.execute(insert(subscribers), subscriber_rows(start, min(start + 10_000, count)))
    engine.dispose()


def subscriber_rows(start: int, stop: int) -> list[dict[str, object]]:
    return [
        {
            "email": f"okur{i}@example.org",
            "email_key": f"okur{i}@example.org",
            "name": "",
            "language": "tr",
            "cadence": "daily",
            "format": "html",
            "status": "confirmed",
            "token_version": 1,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in range(start, stop)
    ]


def articles(now: datetime = NOW) -> list[Article]:
    found = []
    for i in range(10):
        title = f"Yeni nesil korvet ilk seyir testlerini tamamladı ({i + 1})"
        body = f"<p>{PARAGRAPH * 3}</p>"
        when = now - timedelta(hours=i + 1)
        found.append(
            Article(
                guid=f"bench-{i}",
                url=f"https://www.m5dergi.com/deniz-sistemleri/yeni-nesil-korvet-{i}/",
                title=title,
                content_html=body,
                summary=(PARAGRAPH * 4)[:600],
                language="tr",
                published_at=when,
                updated_at=when,
                categories=[Category("deniz-sistemleri", "Deniz Sistemleri")],
                image_url=f"https://www.m5dergi.com/wp-content/uploads/2026/11/korvet-{i}.jpg",
                image_alt="Korvet seyir halinde",
                content_hash=content_hash(title, body),
            )
        )
    return found


# --- the runs (each in its own process) ---------------------------------------------


def settings_for(db: Path | str, port: int, connections: int, dkim_key: str) -> Runtime:
    settings = load_settings(
        path=None,
        env={},
        overrides={
            "database": {"url": database_url(db)},
            "site": {"public_url": "https://bulten.example.org"},
            "newsletter": {
                "from": "M5 Dergi <bulten@example.org>",
                "postal_address": "M5 Dergi, Örnek Sokak 1, 06000 Ankara, Türkiye",
            },
            "delivery": {
                "transport": "smtp",
                "smtp_url": f"smtp://127.0.0.1:{port}?starttls=off",
                "concurrency": connections,
                "batch_size": 1000,
            },
            "dkim": (
                {"domain": "example.org", "selector": "bench", "private_key_file": dkim_key}
                if dkim_key
                else {}
            ),
        },
    )
    web = settings.web.with_changes(secret_key=SECRET)
    return Runtime(settings.with_changes(web=web), clock=lambda: NOW)


async def run_send(runtime: Runtime) -> int:
    transport = runtime.new_transport()
    try:
        report = await send_due(runtime.send_parts(transport), NOW, SendOptions(("daily",)))
    finally:
        await transport.close()
    return sum(edition.tally.sent for edition in report.editions)


async def run_baseline(port: int, connections: int, message: bytes, count: int) -> int:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> int:
        client = SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        sent = 0
        while not queue.empty():
            i = queue.get_nowait()
            await client.sendmail("bulten@example.org", [f"okur{i}@example.org"], message)
            sent += 1
        await client.quit()
        return sent

    return sum(await asyncio.gather(*(worker() for _ in range(connections))))


def child(args: argparse.Namespace) -> None:
    """One measured run; prints a JSON line."""
    started, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if args.child == "seed":  # a database migrated by this child's code (--src)
        seed(args.db, args.count)
        print(json.dumps({"seeded": args.count}))
        return
    if args.child == "baseline":
        message = Path(args.message).read_bytes()
        sent = asyncio.run(run_baseline(args.port, args.connections, message, args.count))
    else:
        runtime = settings_for(args.db, args.port, args.connections, args.dkim_key)
        sent = asyncio.run(run_send(runtime))
        runtime.close()
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(
        json.dumps(
            {
                "sent": sent,
                "seconds": elapsed,
                "rate": sent / elapsed,
                "cpu_ms_per_msg": cpu * 1000 / max(sent, 1),
                "maxrss_mb": peak_rss_mb(),
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's own peak RSS (see the module's docstring: not ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(
    kind: str, port: int, connections: int, src: str = "", **extra: str
) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, "--port", str(port)]
    command += ["--src", src] if src else []
    command += ["--connections", str(connections)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", value]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def sample_message(db: Path, port: int, connections: int) -> bytes:
    """One digest exactly as `send` builds it, for the baseline to send over and over."""
    runtime = settings_for(db, port, connections, "")
    try:
        outbox = Path(tempfile.mkdtemp()) / "outbox"
        settings = runtime.settings
        delivery = settings.delivery.with_changes(transport="outbox", outbox_dir=str(outbox))
        one = Runtime(settings.with_changes(delivery=delivery), clock=lambda: NOW)
        asyncio.run(run_send_limited(one))
        one.close()
        return next((outbox / "new").glob("*.eml")).read_bytes()
    finally:
        runtime.close()


async def run_send_limited(runtime: Runtime) -> None:
    transport = runtime.new_transport()
    try:
        await send_due(runtime.send_parts(transport), NOW, SendOptions(("daily",), limit=1))
    finally:
        await transport.close()


def dkim_key_file(folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--memory", action="store_true", help="also 10x subscribers, once")
    parser.add_argument("--memory-subscribers", type=int, help="instead of 10x, with --memory")
    parser.add_argument(
        "--memory-postgresql",
        default="",
        help="with --memory: also on this PostgreSQL (URL; fresh schemas, dropped after)",
    )
    parser.add_argument(
        "--no-memory-sqlite",
        action="store_true",
        help="with --memory-postgresql: only the PostgreSQL runs (for a long run in parts)",
    )
    parser.add_argument("--baseline-src", default="", help="also B0/C0: another checkout's code")
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--message", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dkim-key", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    ensure_sink()
    folder = Path(tempfile.mkdtemp(prefix="m5bench-"))
    port = free_port()
    sink = start_sink(port)
    try:
        results = bench(args, folder, port)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    report(args, results)


def bench(args: argparse.Namespace, folder: Path, port: int) -> dict[str, list[dict[str, float]]]:
    template = folder / "template.db"
    seed(template, args.subscribers)
    # The baseline code gets a database its own migrations made (its schema may differ).
    template_before = folder / "template-before.db"
    if args.baseline_src:
        extra = {"db": str(template_before), "count": str(args.subscribers)}
        measure("seed", port, args.connections, args.baseline_src, **extra)
    message = folder / "message.eml"
    shutil.copy(template, folder / "sample.db")
    message.write_bytes(sample_message(folder / "sample.db", port, 1))
    key = dkim_key_file(folder)
    kinds = ["baseline", "send", "dkim"]
    if args.baseline_src:
        kinds += ["send_before", "dkim_before"]
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for round_ in range(args.runs):
        for kind in kinds:
            db = folder / f"run-{round_}-{kind}.db"
            shutil.copy(template_before if kind.endswith("_before") else template, db)
            extra = {"db": str(db), "count": str(args.subscribers), "message": str(message)}
            if kind.startswith("dkim"):
                extra["dkim_key"] = str(key)
            src = args.baseline_src if kind.endswith("_before") else ""
            child_kind = "baseline" if kind == "baseline" else "send"
            found = measure(child_kind, port, args.connections, src, **extra)
            found["load"] = os.getloadavg()[0]
            results[kind].append(found)
            print(
                f"round {round_ + 1} {kind:11} {found['rate']:7.0f} msg/s "
                f"cpu {found['cpu_ms_per_msg']:.3f} ms/msg rss {found['maxrss_mb']:.0f} MB "
                f"load {found['load']:.1f}",
                flush=True,
            )
            db.unlink()
    if args.memory:
        big_count = args.memory_subscribers or args.subscribers * 10
        if not (args.no_memory_sqlite and args.memory_postgresql):
            big = folder / "big.db"
            seed(big, big_count)
            results["memory_big"] = [memory_run(port, args.connections, big, big_count)]
            big.unlink()
        if args.memory_postgresql:
            for name, count in (
                ("memory_pg_small", args.subscribers),
                ("memory_pg_big", big_count),
            ):
                with postgres_schema(args.memory_postgresql) as url:
                    seed(url, count)
                    results[name] = [memory_run(port, args.connections, url, count)]
    results["message_bytes"] = [{"size": float(len(message.read_bytes()))}]
    return results


def memory_run(port: int, connections: int, db: Path | str, count: int) -> dict[str, float]:
    found = measure("send", port, connections, db=str(db))
    where = "PostgreSQL" if "://" in str(db) else "SQLite"
    print(
        f"{count} subscribers on {where}: {found['rate']:.0f} msg/s "
        f"rss {found['maxrss_mb']:.0f} MB",
        flush=True,
    )
    return found


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL at ``base``, as the URL to use; dropped after."""
    schema = f"m5_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> None:
    base = [r["rate"] for r in results["baseline"]]

    def ratio(kind: str) -> float:
        return median([r["rate"] / b for r, b in zip(results[kind], base, strict=True)])

    loads = [r["load"] for rows in results.values() for r in rows if "load" in r]
    lines = [
        f"\n## bench/bench_send.py: send, {args.subscribers:,} subscribers, "
        f"{args.connections} connections "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {platform.python_version()}, "
        f"aiosmtplib {metadata.version('aiosmtplib')}, SQLAlchemy {metadata.version('sqlalchemy')}"
        f", cryptography {metadata.version('cryptography')}; sink: Postfix smtp-sink; "
        f"message {int(results['message_bytes'][0]['size']):,} bytes; {args.runs} rounds "
        f"alternating {' '.join(LABELS[kind][0] for kind in results if kind in LABELS)}, "
        f"medians (min-max); 1-minute load average at the runs {min(loads):.1f}-"
        f"{max(loads):.1f} (2 CPUs: above 2, other work shared them).\n",
        "| run | msg/s | CPU ms/msg | peak RSS MB | vs A (median of round ratios) |",
        "|---|---|---|---|---|",
    ]
    for kind, (letter, name, target) in LABELS.items():
        if kind in results:
            shown = "1.00" if kind == "baseline" else f"{ratio(kind):.2f}{target}"
            lines.append(row(f"{letter} {name}", results[kind], shown))
    if args.baseline_src:
        lines.append(f"\nB0 and C0: the code of {args.baseline_src} (`git -C` it for the commit).")
    big_count = args.memory_subscribers or args.subscribers * 10
    if "memory_big" in results:
        small = median([r["maxrss_mb"] for r in results["send"]])
        lines.append("")
        lines.append(memory_line("SQLite", results["memory_big"][0], small, big_count, args))
    if "memory_pg_big" in results:
        small = results["memory_pg_small"][0]["maxrss_mb"]
        lines.append(memory_line("PostgreSQL", results["memory_pg_big"][0], small, big_count, args))
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            handle.write(text)


def memory_line(
    where: str, big: dict[str, float], small: float, count: int, args: argparse.Namespace
) -> str:
    return (
        f"Peak RSS of B on {where} at {count:,} subscribers: {big['maxrss_mb']:.0f} MB vs "
        f"{small:.0f} MB at {args.subscribers:,} ({big['maxrss_mb'] / small - 1:+.0%}; target "
        f"within 10%); {big['rate']:,.0f} msg/s."
    )


LABELS = {
    "baseline": ("A", "raw aiosmtplib sendmail(bytes), one pre-built message", ""),
    "send": ("B", "`send_due` (render per variant, links, ledger on SQLite)", " (target >= 0.8)"),
    "dkim": ("C", "`send_due` + DKIM RSA-2048", " (target >= 0.6)"),
    "send_before": ("B0", "B with the baseline code (--baseline-src)", ""),
    "dkim_before": ("C0", "C with the baseline code (--baseline-src)", ""),
}


def cell(rows: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in rows]
    return f"{median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def row(name: str, rows: list[dict[str, float]], ratio: str) -> str:
    cpu = median([r["cpu_ms_per_msg"] for r in rows])
    return f"| {name} | {cell(rows, 'rate')} | {cpu:.3f} | {cell(rows, 'maxrss_mb')} | {ratio} |"


if __name__ == "__main__":
    main()

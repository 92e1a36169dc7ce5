"""Feeds benchmark: build every feed from 10,000 stored articles; serve one feed under
load (200s and 304s) from uvicorn (one worker) beside static servers holding the same
bytes (python -m http.server, and nginx when installed), alternating A B A B.

    PYTHONPATH=src python bench/bench_feeds.py [--articles 10000] [--rounds 5] [--seconds 4]

Needs `wrk` (Debian: apt-get install wrk). Starts and stops its own servers (by PID) in a
temporary folder, prints the figures and appends them to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
from machine import cpu_model
from sqlalchemy.engine import Engine

from m5syndicate.config import Settings, SourceSettings, load_settings
from m5syndicate.feeds.catalog import feed_catalog
from m5syndicate.feeds.publish import publish_feeds
from m5syndicate.models import Article, Category
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
FEED = "all-tr.atom"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
CATEGORIES = [
    Category("defence-news", "Defence News"),
    Category("one-cikan", "Öne Çıkan"),
    Category("kara-sistemleri", "Kara Sistemleri"),
    Category("deniz-sistemleri", "Deniz Sistemleri"),
]
PARAGRAPH = (
    "<p>Savunma sanayiinde yeni bir dönem başlıyor: milli korvet seyir testlerini "
    "tamamladı ve teslimata hazırlanıyor. <a href='https://www.m5dergi.com/etiket/x/'>"
    "Ayrıntılar</a> için <strong>M5 Dergi</strong>.</p>"
)


def seed(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name="bench", type="feed", url="x")], NOW)
        source_id = sources.get_source(conn, "bench").id
        assert source_id is not None
        article_store.upsert_articles(conn, source_id, (article(i) for i in range(count)), NOW)


def article(i: int) -> Article:
    when = NOW - timedelta(minutes=7 * i)
    body = PARAGRAPH * 12  # ~3 KB, a typical news article
    title = f"Haber {i}: yeni sistem teslim edildi"
    return Article(
        guid=f"https://www.m5dergi.com/?p={100000 + i}",
        url=f"https://www.m5dergi.com/haber-{i}/",
        title=title,
        content_html=body,
        summary="Savunma sanayiinde yeni bir dönem başlıyor.",
        language="en" if i % 3 == 0 else "tr",
        published_at=when,
        updated_at=when,
        categories=[CATEGORIES[i % 4], CATEGORIES[(i + 1) % 4]],
        author="M5 Dergi",
        image_url=f"https://www.m5dergi.com/wp-content/uploads/{i}.jpg",
        content_hash=hashlib.sha256(f"{title}{i}".encode()).hexdigest(),
    )


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_build(
    engine: Engine, settings: Settings, work: Path, rounds: int
) -> dict[str, list[float]]:
    """A: publish_feeds into an empty folder (query + build + write 12 files);
    B: the raw baseline, only the database reads the same feeds need."""
    catalog = feed_catalog(settings.feeds, settings.site)

    def publish() -> None:
        folder = Path(tempfile.mkdtemp(dir=work))
        publish_feeds(engine, settings.feeds, settings.site, folder)

    def query_only() -> None:
        with engine.connect() as conn:
            for spec in catalog:
                article_store.latest_articles(
                    conn, settings.feeds.items, language=spec.language, category=spec.category
                )

    results: dict[str, list[float]] = {"publish": [], "query": []}
    publish()  # warm caches once, as a running service is
    for _ in range(rounds):
        results["publish"].append(timed(publish))
        results["query"].append(timed(query_only))
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def process(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def uvicorn_server(settings: Settings, port: int) -> tuple[list[str], dict[str, str]]:
    """The production app (create_app) in one uvicorn worker, without per-request
    access logging (`serve` logs each request at info level; see BENCHMARKS.md)."""
    code = (
        "import uvicorn\n"
        "from m5syndicate.config import load_settings\n"
        "from m5syndicate.runtime import Runtime\n"
        "from m5syndicate.web.app import create_app\n"
        "app = create_app(Runtime(load_settings(None)))\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, access_log=False, log_level='warning')\n"
    )
    env = {
        "PYTHONPATH": str(REPO / "src"),
        "M5_DATABASE__URL": settings.database.url,
        "M5_CONFIG": "",
    }
    return [sys.executable, "-c", code], env


def nginx_config(work: Path, root: Path, port: int) -> Path:
    conf = work / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  types {{ application/atom+xml atom; application/rss+xml rss; application/feed+json json; }}
  server {{ listen 127.0.0.1:{port}; root {root}; etag on; }}
}}
"""
    )
    return conf


def wrk(url: str, seconds: int, header: str = "") -> float:
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s", url]
    if header:
        args[1:1] = ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx" in out:
        print(out, file=sys.stderr)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def validators(url: str) -> str:
    """The header that makes this server answer 304 (its ETag, else its Last-Modified),
    checked once before the load."""
    first = httpx.get(url)
    first.raise_for_status()
    etag = first.headers.get("etag")
    name, value = (
        ("If-None-Match", etag) if etag else ("If-Modified-Since", first.headers["last-modified"])
    )
    again = httpx.get(url, headers={name: value})
    assert again.status_code == 304, (url, again.status_code)
    return f"{name}: {value}"


def feed_url(server: str, port: int) -> str:
    path = f"/feeds/{FEED}" if server == "uvicorn" else f"/{FEED}"
    return f"http://127.0.0.1:{port}{path}"


def server_commands(
    settings: Settings, static_root: Path, work: Path
) -> dict[str, tuple[list[str], dict[str, str], int]]:
    servers = {}
    port = free_port()
    args, env = uvicorn_server(settings, port)
    servers["uvicorn"] = (args, env, port)
    port = free_port()
    static = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    servers["http.server"] = ([*static, "--directory", str(static_root)], {}, port)
    if shutil.which("nginx"):
        port = free_port()
        conf = nginx_config(work, static_root, port)
        servers["nginx"] = (["nginx", "-c", str(conf), "-p", str(work)], {}, port)
    return servers


def bench_serving(
    settings: Settings, static_root: Path, work: Path, rounds: int, seconds: int
) -> dict[str, list[float]]:
    servers = server_commands(settings, static_root, work)
    results: dict[str, list[float]] = {}
    with ExitStack() as stack:
        for args, env, port in servers.values():
            stack.enter_context(process(args, port, env))
        headers = {name: validators(feed_url(name, port)) for name, (_, _, port) in servers.items()}
        same = {httpx.get(feed_url(name, port)).content for name, (_, _, port) in servers.items()}
        assert len(same) == 1, "the servers do not serve the same bytes"
        for _ in range(rounds):  # A B A B: every server once per round and kind
            for name, (_, _, port) in servers.items():
                url = feed_url(name, port)
                results.setdefault(f"{name} 200", []).append(wrk(url, seconds))
                results.setdefault(f"{name} 304", []).append(wrk(url, seconds, headers[name]))
    return results


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def ms(values: list[float]) -> str:
    scaled = [v * 1000 for v in values]
    return f"{statistics.median(scaled):.0f} ms (min {min(scaled):.0f}, max {max(scaled):.0f})"


def machine() -> str:
    cpu = cpu_model()
    nginx = (
        subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        if shutil.which("nginx")
        else "no nginx"
    )
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(
        " ["
    )[0]
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("feedgen", "lxml", "SQLAlchemy", "starlette", "uvicorn")
    )
    return (
        f"nproc {os.cpu_count()}, {cpu}; Python {platform.python_version()}, {versions}; "
        f"{nginx}; {wrk_version}"
    )


def report(
    count: int, build: dict[str, list[float]], serving: dict[str, list[float]], seconds: int
) -> str:
    ratios_200 = [
        u / s for u, s in zip(serving["uvicorn 200"], serving["http.server 200"], strict=True)
    ]
    ratios_304 = [
        u / s for u, s in zip(serving["uvicorn 304"], serving["http.server 304"], strict=True)
    ]
    lines = [
        f"### Feeds ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `bench/bench_feeds.py`)",
        "",
        machine(),
        "",
        f"Build: `publish_feeds` of all 12 feeds (4 feeds x RSS/Atom/JSON, 50 items each) "
        f"from {count:,} stored articles (SQLite), into an empty folder; "
        f"{len(build['publish'])} runs, alternating with the raw baseline "
        "(the same database reads only).",
        "",
        "| what | median (min, max) |",
        "|---|---|",
        f"| publish_feeds: query + build + write 12 files | {ms(build['publish'])} |",
        f"| baseline: the 4 `latest_articles` reads alone | {ms(build['query'])} |",
        "",
        f"Serving `/feeds/{FEED}` ({FEED} as built), wrk 1 thread, 32 connections, "
        f"{seconds} s per run, servers alternated each round; requests/s:",
        "",
        "| server | 200 (full body) | 304 (validator matches) |",
        "|---|---|---|",
    ]
    for name in ("uvicorn", "http.server", "nginx"):
        if f"{name} 200" in serving:
            label = {
                "uvicorn": "m5syndicate app, uvicorn, 1 worker",
                "http.server": "python -m http.server (static, same bytes)",
                "nginx": "nginx, 1 worker (static, same bytes)",
            }[name]
            ok, not_modified = serving[f"{name} 200"], serving[f"{name} 304"]
            lines.append(f"| {label} | {summary(ok)} | {summary(not_modified)} |")
    lines += [
        "",
        f"Median ratio app / http.server per round: 200s {statistics.median(ratios_200):.2f}, "
        f"304s {statistics.median(ratios_304):.2f} (target for 304s: >= 0.5).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_feeds: wrk is missing; install it: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="m5-bench-feeds-"))
    work.chmod(0o755)  # nginx's worker runs as an unprivileged user and must read it
    try:
        settings = load_settings(None, env={"M5_DATABASE__URL": f"sqlite:///{work / 'bench.db'}"})
        settings = settings.with_changes(path="bench")
        engine = make_engine(settings.database.url)
        upgrade(engine)
        print(f"seeding {options.articles:,} articles ...", flush=True)
        seed(engine, options.articles)
        build = bench_build(engine, settings, work, options.rounds)
        static_root = work / "static"
        publish_feeds(engine, settings.feeds, settings.site, static_root)
        engine.dispose()
        print("serving ...", flush=True)
        serving = bench_serving(settings, static_root, work, options.rounds, options.seconds)
        text = report(options.articles, build, serving, options.seconds)
        print(text)
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

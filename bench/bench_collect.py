"""Collect benchmark: backfill 2,000 WordPress posts (20 pages of 100) from a loopback
server into a fresh SQLite file, then no-change polls; beside a raw baseline measured in
the same run (plain httpx GETs of the same 20 pages + json.loads; one conditional GET).

    PYTHONPATH=src:. python bench/bench_collect.py [--runs 5] [--no-write]

The server runs in a child process (started and stopped here, by PID) so that the CPU
figures are the collector's alone. Candidate and baseline alternate (A B A B ...);
medians are reported with min-max, and the figures are appended to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
from machine import cpu_model
from tests.upstream import Upstream, settings_for, wp_post

from m5syndicate.collect.fetcher import Fetcher, user_agent
from m5syndicate.collect.refresh import SourceReport, refresh_due
from m5syndicate.config import SourceSettings
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
POSTS, PER_PAGE = 2000, 100
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
PARAGRAPH = (
    "Savunma sanayii projesinde yeni bir aşamaya geçildi; sistemin kabul testleri "
    "tamamlandı ve ilk teslimatların önümüzdeki aylarda yapılması planlanıyor. "
)


def post_body(n: int) -> str:
    paragraphs = "".join(f"<p>{PARAGRAPH * 3} ({n}.{i})</p>\n" for i in range(6))
    return (
        f"<p>Abone Ol</p>\n{paragraphs}"
        f'<figure><img data-src="/wp-content/uploads/{n}.jpg" src="data:image/gif;base64,R0l"'
        f' alt="Görsel {n}"></figure>\n<p>Ayrıntılar için <a href="/kategori/{n}/">tıklayın</a>'
        "</p>\n<p>Abone Ol</p>\n<h3>İlgili Makaleler</h3><ul><li><a href='/x/'>x</a></li></ul>"
    )


def serve(port: int) -> None:
    """Child process: the fake WordPress with 2,000 posts, until killed."""
    upstream = Upstream()
    upstream.posts = [
        wp_post(
            n,
            f"Haber {n}: &#8220;yeni&#8221; gelişme &amp; açıklama",
            post_body(n),
            NOW - timedelta(hours=POSTS - n + 1),
            categories=(("one-cikan", "Öne Çıkan"), ("kara-sistemleri", "Kara Sistemleri")),
            image=f"https://www.m5dergi.com/wp-content/uploads/{n}-kapak.jpg",
        )
        for n in range(1, POSTS + 1)
    ]
    with upstream.running():
        print("ready", upstream.base_url, flush=True)
        while True:
            time.sleep(3600)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(action: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def candidate(base_url: str, folder: Path, index: int) -> dict[str, float]:
    """Backfill into a fresh database, then two no-change polls."""
    engine = make_engine(f"sqlite:///{folder / f'bench-{index}.db'}")
    upgrade(engine)
    source = SourceSettings(name="m5", type="wordpress", url=f"{base_url}/wp-json/wp/v2/")
    settings = settings_for(source)

    def collect(now: datetime) -> SourceReport:
        async def run() -> SourceReport:
            fetcher = Fetcher(settings.collect, user_agent("http://bench"))
            try:
                (report,) = await refresh_due(engine, fetcher, settings, now, force=True)
                return report
            finally:
                await fetcher.aclose()

        return asyncio.run(run())

    wall, _, report = measure(lambda: collect(NOW))
    assert isinstance(report, SourceReport) and len(report.new) == POSTS, report
    _, first_poll_cpu, first = measure(lambda: collect(NOW + timedelta(minutes=10)))
    _, steady_poll_cpu, steady = measure(lambda: collect(NOW + timedelta(minutes=20)))
    assert isinstance(steady, SourceReport) and steady.not_modified, steady
    assert isinstance(first, SourceReport) and first.unchanged == 1, first
    engine.dispose()
    return {
        "posts_per_s": POSTS / wall,
        "first_poll_cpu_ms": first_poll_cpu * 1000,
        "steady_poll_cpu_ms": steady_poll_cpu * 1000,
    }


def baseline(base_url: str) -> dict[str, float]:
    """The floor: the same 20 pages fetched and decoded, nothing else; one 304."""
    url = f"{base_url}/wp-json/wp/v2/posts"
    params = {"_embed": "1", "orderby": "modified", "order": "desc", "per_page": "100"}
    with httpx.Client() as client:

        def fetch_all() -> int:
            count = 0
            for page in range(1, POSTS // PER_PAGE + 1):
                answer = client.get(url, params={**params, "page": str(page)})
                count += len(json.loads(answer.content))
            return count

        wall, _, count = measure(fetch_all)
        assert count == POSTS
        etag = client.get(url, params=params).headers["etag"]
        _, cpu, answer = measure(
            lambda: client.get(url, params=params, headers={"if-none-match": etag})
        )
        assert isinstance(answer, httpx.Response) and answer.status_code == 304
    return {"posts_per_s": POSTS / wall, "conditional_get_cpu_ms": cpu * 1000}


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def machine() -> str:
    model = cpu_model()
    libs = ", ".join(f"{n} {version(n)}" for n in ("httpx", "sqlalchemy", "nh3", "lxml"))
    return f"nproc {os.cpu_count()}, {model}; Python {platform.python_version()}, {libs}"


def report(runs: int, a: list[dict[str, float]], b: list[dict[str, float]]) -> str:
    ratios = [x["posts_per_s"] / y["posts_per_s"] for x, y in zip(a, b, strict=True)]
    speed = [x["posts_per_s"] for x in a]
    return "\n".join(
        [
            f"\n### Collect: WordPress backfill and no-change poll ({datetime.now(UTC):%Y-%m-%d})",
            "",
            f"{machine()}. `PYTHONPATH=src:. python bench/bench_collect.py --runs {runs}`:",
            f"{POSTS:,} posts in {POSTS // PER_PAGE} pages from a loopback server (child",
            "process) into a fresh SQLite file; A/B alternated; median (min-max).",
            "",
            "| what | figure | target |",
            "|---|---|---|",
            f"| backfill, m5syndicate (fetch, parse, clean, store) | {summary(speed)} posts/s "
            "| >= 200 |",
            "| baseline: httpx GET of the 20 pages + json.loads | "
            f"{summary([y['posts_per_s'] for y in b])} posts/s | |",
            f"| m5syndicate / baseline | {statistics.median(ratios):.2f} | |",
            "| no-change poll, steady state (one conditional GET, 304), CPU | "
            f"{summary([x['steady_poll_cpu_ms'] for x in a])} ms | < 50 ms |",
            "| first poll after new posts (overlap window re-read, 1 post), CPU | "
            f"{summary([x['first_poll_cpu_ms'] for x in a])} ms | |",
            "| baseline: one conditional GET with httpx, CPU | "
            f"{summary([y['conditional_get_cpu_ms'] for y in b])} ms | |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        if line[:1] != ["ready"]:
            raise SystemExit("bench: the upstream server did not start")
        base_url = line[1]
        a, b = [], []
        with tempfile.TemporaryDirectory() as folder:
            for index in range(args.runs):
                a.append(candidate(base_url, Path(folder), index))
                b.append(baseline(base_url))
                print(f"run {index + 1}: {a[-1]} | baseline {b[-1]}", flush=True)
    finally:
        child.terminate()
        child.wait(timeout=10)
    text = report(args.runs, a, b)
    print(text)
    if not args.no_write:
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()

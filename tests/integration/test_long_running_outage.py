"""`m5syndicate worker` and `m5syndicate run` as real processes under a real PostgreSQL
outage (the TCP forwarder of test_database_outage.py, cut while they send): an outage
shorter than `[database] outage_grace_seconds` is ridden out, nobody twice and nobody
lost; a longer one stops the process with one clear line, and a later `send` finishes
the edition with at most one duplicate per connection (the rule)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.mail.transport import OutboxTransport
from tests.conftest import REPO
from tests.digests import (
    POSTAL_ADDRESS,
    SECRET,
    add_subscribers,
    make_article,
    run_send,
    settings_for,
    store_articles,
)
from tests.integration.test_database_outage import Forwarder
from tests.servers import free_port
from tests.smtpd import Faults, FaultySMTPServer
from tests.web_support import database_url_of

CONNECTIONS = 2


def through(forwarder: Forwarder, engine: Engine) -> str:
    real = make_url(database_url_of(engine))
    return real.set(port=forwarder.port).render_as_string(hide_password=False)


def write_config(path: Path, database_url: str, smtp_url: str, grace: float, port: int) -> Path:
    path.write_text(
        f'[site]\npublic_url = "http://127.0.0.1:{port}"\n'
        f'[database]\nurl = "{database_url}"\noutage_grace_seconds = {grace}\n'
        f'[feeds]\nout_dir = "{path.parent / "feeds"}"\n'
        f'[newsletter]\npostal_address = "{POSTAL_ADDRESS}"\n'
        f'[delivery]\ntransport = "smtp"\nsmtp_url = "{smtp_url}"\n'
        f"concurrency = {CONNECTIONS}\nbatch_size = 5\n"
        '[schedule]\nleader_check = "1s"\ncatch_up_grace = "24h"\n',
        encoding="utf-8",
    )
    return path


def start(config: Path, *command: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "M5_SECRET_KEY": SECRET}
    env.pop("M5_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "m5syndicate", "--config", str(config), *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    """Its output, once it has stopped (told to by ``sig`` if it still runs)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
    return output


def wait_for_exit(process: subprocess.Popen[str], seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):  # the assertions say so
        process.wait(timeout=seconds)


def cut_after(server: FaultySMTPServer, forwarder: Forwarder, seconds: float) -> threading.Thread:
    """Cut the database for ``seconds`` once 20 messages went out (mid-send)."""

    def cut() -> None:
        server.wait_for(20, timeout=60)
        forwarder.cut(seconds)

    cutter = threading.Thread(target=cut)
    cutter.start()
    return cutter


def edition_being_sent(engine: Engine, tmp_path: Path, count: int) -> list[str]:
    """An edition `send --limit 1` left half done: what `worker` joins."""
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, count)
    settings = settings_for(database_url_of(engine), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "first"), limit=1)
    return emails[1:]  # the first went to the outbox


@dataclass
class Running:
    """`worker` or `run` started against the database through a forwarder."""

    forwarder: Forwarder
    server: FaultySMTPServer
    process: subprocess.Popen[str]
    output: str | None = None

    def stop(self) -> str:
        """Its output, once it has stopped (SIGTERM if it still runs); once only."""
        if self.output is None:
            self.output = finish(self.process)
        return self.output


@contextlib.contextmanager
def running(engine: Engine, tmp_path: Path, grace: float, command: str) -> Iterator[Running]:
    """``command`` ("worker" or "run") with ``[database] outage_grace_seconds`` = grace,
    its database behind a forwarder, its relay a real SMTP server; stopped at the end."""
    with (
        Forwarder(make_url(database_url_of(engine)).port or 5432) as forwarder,
        FaultySMTPServer(Faults(delay=0.02)) as server,
    ):
        port = free_port()
        url = through(forwarder, engine)
        config = write_config(tmp_path / "m5.toml", url, server.url, grace, port)
        extra = ("--port", str(port)) if command == "run" else ()
        started = Running(forwarder, server, start(config, command, *extra))
        try:
            yield started
        finally:
            started.stop()


def needs_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the forwarder stands between the process and a PostgreSQL server")


def test_worker_rides_out_a_short_outage(engine: Engine, tmp_path: Path) -> None:
    needs_postgresql(engine)
    left = edition_being_sent(engine, tmp_path, 120)
    with running(engine, tmp_path, 30, "worker") as worker:
        cut_after(worker.server, worker.forwarder, 3.0).join()
        worker.server.wait_for(len(left), timeout=60)
    output, received = worker.stop(), worker.server.handler.counts()
    assert worker.process.returncode == 0, output
    assert "database unreachable while" in output  # the outage did hit it
    assert received == dict.fromkeys(left, 1), output  # nobody twice, nobody lost


def test_worker_stops_with_one_line_on_a_long_outage(engine: Engine, tmp_path: Path) -> None:
    needs_postgresql(engine)
    left = edition_being_sent(engine, tmp_path, 120)
    with running(engine, tmp_path, 2, "worker") as worker:
        cutter = cut_after(worker.server, worker.forwarder, 12.0)
        wait_for_exit(worker.process, 60)  # stops by itself, during the outage
        cutter.join()
        output = worker.stop()
        first = worker.server.handler.counts()
        later = SmtpTransport(parse_smtp_url(worker.server.url), CONNECTIONS, 5)
        settings = settings_for(database_url_of(engine), tmp_path)
        after_leases = datetime.now(UTC) + timedelta(minutes=5)  # its leases ran out
        run_send(engine, settings, later, now=after_leases)
        received = worker.server.handler.counts()
    assert worker.process.returncode == 1, output
    stop_line = output.strip().splitlines()[-1]
    assert stop_line.startswith("error: database: unreachable for more than 2 s"), output
    assert "run the command again" in stop_line and "Traceback" not in output
    assert set(received) == set(left)  # nobody lost
    twice = [email for email, n in received.items() if n > 1]
    assert len(twice) <= CONNECTIONS, (twice, first)  # at most one per connection


def daily_subscribers(engine: Engine, count: int) -> list[str]:
    """Today's daily digest, due (caught up) when `run` starts."""
    now = datetime.now(UTC)
    store_articles(engine, [make_article("a", base=now)], now=now)
    return add_subscribers(engine, count)


def test_run_rides_out_a_short_outage(engine: Engine, tmp_path: Path) -> None:
    needs_postgresql(engine)
    emails = daily_subscribers(engine, 120)
    with running(engine, tmp_path, 30, "run") as service:
        cut_after(service.server, service.forwarder, 3.0).join()
        service.server.wait_for(len(emails), timeout=90)
    output, received = service.stop(), service.server.handler.counts()
    assert service.process.returncode == 0, output
    assert "database unreachable while" in output
    assert received == dict.fromkeys(emails, 1), output


def test_run_stops_with_one_line_on_a_long_outage(engine: Engine, tmp_path: Path) -> None:
    needs_postgresql(engine)
    emails = daily_subscribers(engine, 120)
    with running(engine, tmp_path, 2, "run") as service:
        cutter = cut_after(service.server, service.forwarder, 15.0)
        wait_for_exit(service.process, 80)  # stops by itself, during the outage
        cutter.join()
    output, received = service.stop(), service.server.handler.counts()
    assert service.process.returncode == 1, output
    last = output.strip().splitlines()[-1]
    assert "unreachable for more than 2 s" in last, output
    assert "Traceback" not in output
    assert set(received.values()) == {1} and set(received) < set(emails)

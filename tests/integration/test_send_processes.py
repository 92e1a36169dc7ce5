"""`send --processes N`: real processes sharing an edition through the ledger, a real
SMTP server on loopback, on SQLite and PostgreSQL; stopped, and one child killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.store.schema import deliveries
from tests.conftest import REPO
from tests.integration.test_send_cli import ledger_counts, seed, send_env, start_send
from tests.smtpd import Faults, FaultySMTPServer

pytestmark = pytest.mark.slow


def children_of(pid: int, timeout: float = 30) -> list[int]:
    """The sending processes a parent started (forked, or spawned when the parent had
    threads; multiprocessing's resource tracker, should one start, is not one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(child))
        if len(found) >= 2:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not start its sending processes")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def workers(engine: Engine) -> set[str]:
    """The worker names that claimed the edition's rows (host:pid:random)."""
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(select(deliveries.c.claimed_by).distinct())}


def test_two_processes_send_everyone_exactly_once(engine: Engine) -> None:
    emails = seed(engine, 200)
    with FaultySMTPServer(Faults(delay=0.002)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        sender = start_send(env, "--processes", "2")
        out, err = sender.communicate(timeout=180)
        received = server.handler.counts()
    assert sender.returncode == 0, err
    assert "sending with 2 processes" in err
    assert sorted(received) == sorted(emails) and max(received.values()) == 1
    assert ledger_counts(engine) == {"sent": 200}
    assert len(workers(engine)) == 2  # both shared the work
    row = next(line for line in out.splitlines() if line.startswith("daily-"))
    assert row.split()[1:3] == ["done", "200"]  # the summary adds up both processes


def test_fewer_processes_than_batches_of_work(engine: Engine) -> None:
    emails = seed(engine, 5)
    with FaultySMTPServer() as server:
        sender = start_send(send_env(engine, server.url), "--processes", "4")
        _, err = sender.communicate(timeout=120)
        received = server.handler.counts()
    assert sender.returncode == 0, err
    assert "sending with" not in err  # 5 deliveries are less than one batch: this process
    assert sorted(received) == sorted(emails)


def test_sigterm_to_the_parent_stops_every_process_cleanly(engine: Engine) -> None:
    emails = seed(engine, 200)
    with FaultySMTPServer(Faults(delay=0.05)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        parent = start_send(env, "--processes", "2")
        children = children_of(parent.pid)
        server.wait_for(20)
        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=60)
        assert parent.returncode == 1, err
        assert "stopped early (interrupted)" in err and "run `m5syndicate send` again" in err
        assert not any(alive(child) for child in children)
        counts = ledger_counts(engine)
        assert counts["sending"] == 0  # every claim released
        assert counts["sent"] == len(server.handler.received) < len(emails)
        rerun = start_send(env, "--processes", "2")
        _, err = rerun.communicate(timeout=180)
        assert rerun.returncode == 0, err
        received = server.handler.counts()
    assert sorted(received) == sorted(emails) and max(received.values()) == 1


def test_ctrl_c_to_the_whole_group_stops_every_process_cleanly(engine: Engine) -> None:
    """A terminal's Ctrl-C reaches every process of the group: the children leave it to
    the parent, which stops them once (a second signal would abort)."""
    emails = seed(engine, 200)
    with FaultySMTPServer(Faults(delay=0.05)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        command = [sys.executable, "-m", "m5syndicate", "send", "--cadence", "daily"]
        parent = subprocess.Popen(
            [*command, "--processes", "2"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a shell gives it
        )
        children = children_of(parent.pid)
        server.wait_for(20)
        os.killpg(parent.pid, signal.SIGINT)
        _, err = parent.communicate(timeout=60)
        assert parent.returncode == 1, err
        assert "stopped early (interrupted)" in err and "aborting" not in err
        assert not any(alive(child) for child in children)
        counts = ledger_counts(engine)
        assert counts["sending"] == 0
        assert counts["sent"] == len(server.handler.received) < len(emails)
    assert max(server.handler.counts().values()) == 1


def test_a_killed_child_is_retaken_by_the_other_after_its_lease(engine: Engine) -> None:
    emails = seed(engine, 200)
    with FaultySMTPServer(Faults(delay=0.03)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        parent = start_send(env, "--processes", "2")
        victim = children_of(parent.pid)[0]
        server.wait_for(30)
        os.kill(victim, signal.SIGKILL)
        out, err = parent.communicate(timeout=180)
        received = server.handler.counts()
    assert parent.returncode == 0, err
    assert f"(pid {victim}) ended with exit code -9" in err
    assert sorted(received) == sorted(emails)  # nobody lost
    # At most the message in flight on each of its connections (concurrency 4, split: 2).
    assert sum(count - 1 for count in received.values()) <= 2
    assert ledger_counts(engine) == {"sent": 200}
    assert "done" in out


def test_a_worker_joins_the_processes_of_a_send(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("workers on other machines share a PostgreSQL")
    emails = seed(engine, 400)
    # 2 processes x 2 connections at 0.2 s a message: 20 s, time for the worker to start.
    with FaultySMTPServer(Faults(delay=0.2)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        sender = start_send(env, "--processes", "2")
        children_of(sender.pid)
        server.wait_for(10)  # the edition is frozen and being sent
        worker = subprocess.Popen(
            [sys.executable, "-m", "m5syndicate", "worker"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = sender.communicate(timeout=180)
        worker.send_signal(signal.SIGTERM)
        _, worker_err = worker.communicate(timeout=60)
        received = server.handler.counts()
    assert sender.returncode == 0, err
    assert worker.returncode == 0, worker_err
    assert sorted(received) == sorted(emails) and max(received.values()) == 1
    assert ledger_counts(engine) == {"sent": 400}
    assert len(workers(engine)) == 3  # two processes of the send, and the worker


def test_processes_flag_is_in_the_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "m5syndicate", "send", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    shown = " ".join(result.stdout.split())  # click wraps the help
    assert "--processes" in shown and "[default: (the number of cores)" in shown

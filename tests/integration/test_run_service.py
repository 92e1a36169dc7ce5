"""`m5syndicate run` as a real process: a loopback WordPress, a loopback SMTP server, a
hook ping; then SIGTERM. And two instances on PostgreSQL: one leads, the other takes
over when the leader is killed."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.conftest import REPO
from tests.digests import add_subscribers
from tests.servers import free_port
from tests.smtpd import FaultySMTPServer
from tests.upstream import Upstream, wp_post

SECRET = "run-test-secret-key-0123456789abcdef"
HOOK_SECRET = "run-test-hook-secret"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def write_config(
    path: Path, database_url: str, upstream: Upstream, smtp_url: str, port: int
) -> Path:
    path.write_text(
        f'[site]\npublic_url = "http://127.0.0.1:{port}"\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[feeds]\nout_dir = "{path.parent / "feeds"}"\n'
        '[newsletter]\npostal_address = "Örnek Sok. 1, 06000 Ankara"\n'
        f'[delivery]\ntransport = "smtp"\nsmtp_url = "{smtp_url}"\n'
        '[schedule]\nleader_check = "1s"\n'
        f'[[sources]]\nname = "m5"\ntype = "wordpress"\nevery = "1h"\n'
        f'url = "{upstream.base_url}/wp-json/wp/v2/"\n',
        encoding="utf-8",
    )
    return path


def start_run(config: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "M5_SECRET_KEY": SECRET,
        "M5_WEBHOOK_SECRET": HOOK_SECRET,
    }
    env.pop("M5_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "m5syndicate", "--config", str(config), "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def health(port: int) -> dict[str, object] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.TransportError:
        return None
    return dict(answer.json())


def wait_until(condition, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    output, _ = process.communicate(timeout=60)
    return output


@pytest.mark.slow
def test_a_published_post_reaches_feeds_and_instant_subscribers_in_seconds(
    sqlite_engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    add_subscribers(sqlite_engine, 1, prefix="anlik", cadence="instant", categories=["one-cikan"])
    port = free_port()
    with FaultySMTPServer() as smtp:
        url = sqlite_engine.url.render_as_string(hide_password=False)
        config = write_config(tmp_path / "m5.toml", url, upstream, smtp.url, port)
        process = start_run(config, port)
        try:
            assert wait_until(lambda: (health(port) or {}).get("scheduler") == "leader")
            second = start_run(config, free_port())
            assert second.wait(timeout=60) == 1
            assert "SQLite allows one" in stop(second)

            now = datetime.now(UTC)
            upstream.posts = [
                wp_post(
                    41,
                    "Yeni fırkateyn denize indirildi",
                    "<p>Tören bugün yapıldı.</p>",
                    now - timedelta(minutes=2),
                    categories=(("one-cikan", "Öne Çıkan"),),
                )
            ]
            hook = f"http://127.0.0.1:{port}/api/hooks/wordpress"
            ping = httpx.post(hook, headers={"X-M5-Webhook-Secret": HOOK_SECRET}, json={})
            assert ping.status_code == 202
            started = time.monotonic()
            smtp.wait_for(1, timeout=20)
            assert time.monotonic() - started < 20
            ((address, raw),) = smtp.handler.received
            message = email.message_from_bytes(raw, policy=policy.default)
            assert address == "anlik0@m5.test"
            assert "Yeni fırkateyn denize indirildi" in message.get_body(("plain",)).get_content()
            feed = httpx.get(f"http://127.0.0.1:{port}/feeds/one-cikan.atom")
            assert "Yeni fırkateyn denize indirildi" in feed.text
        finally:
            output = stop(process)
            print(output)  # shown by pytest when the test fails
    assert process.returncode == 0, output
    assert "stopped" in output


@pytest.mark.slow
def test_two_instances_one_leader_and_takeover_after_a_kill(
    engine: Engine, database_url: str, upstream: Upstream, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several `run` instances is what PostgreSQL is for")
    ports = free_port(), free_port()
    config = write_config(
        tmp_path / "m5.toml", database_url, upstream, "smtp://127.0.0.1:1?starttls=off", ports[0]
    )
    first = start_run(config, ports[0])
    try:
        assert wait_until(lambda: (health(ports[0]) or {}).get("scheduler") == "leader")
        second = start_run(config, ports[1])
        try:
            assert wait_until(lambda: (health(ports[1]) or {}).get("scheduler") == "standby")
            assert (health(ports[0]) or {}).get("scheduler") == "leader"
            first.kill()  # SIGKILL: no goodbye; the lock goes with its session
            first.wait(timeout=30)
            assert wait_until(
                lambda: (health(ports[1]) or {}).get("scheduler") == "leader", seconds=60
            )
        finally:
            stop(second)
    finally:
        stop(first, signal.SIGKILL)

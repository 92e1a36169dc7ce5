"""`m5syndicate send` as an admin runs it: real processes, killed, stopped, doubled."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.models import utcnow
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.links import UNSUBSCRIBE, LinkSigner, verify_token
from tests import web_support
from tests.conftest import REPO
from tests.digests import add_subscribers, make_article, store_articles
from tests.smtpd import Faults, FaultySMTPServer

SECRET = "send-cli-test-secret-key-0123456789abcdef"


def send_env(engine: Engine, smtp_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "M5_DATABASE__URL": engine.url.render_as_string(hide_password=False),
        "M5_DELIVERY__TRANSPORT": "smtp",
        "M5_NEWSLETTER__POSTAL_ADDRESS": "Örnek Sok. 1, 06000 Ankara",
        "M5_DELIVERY__SMTP_URL": smtp_url,
        "M5_DELIVERY__LEASE_SECONDS": "2",
        "M5_DELIVERY__RETRY_SECONDS": "0.1",
        "M5_SECRET_KEY": SECRET,
        **extra,
    }
    env.pop("M5_CONFIG", None)
    return env


def start_send(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "m5syndicate", "send", "--cadence", "daily", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seed(engine: Engine, subscribers: int) -> list[str]:
    now = utcnow()
    store_articles(engine, [make_article("a", base=now), make_article("b", base=now)], now=now)
    return add_subscribers(engine, subscribers)


def ledger_counts(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        latest = edition_store.latest_edition(conn, "daily")
        assert latest is not None and latest.id is not None
        return ledger.edition_counts(conn, latest.id)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_loses_nobody(engine: Engine) -> None:
    emails = seed(engine, 60)
    with FaultySMTPServer(Faults(delay=0.05)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__CONCURRENCY="4")
        first = start_send(env)
        server.wait_for(15)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        killed_at = len(server.handler.received)
        assert killed_at < len(emails), "the run finished before the kill; slow the server"
        rerun = start_send(env)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        received = server.handler.counts()
    assert set(received) == set(emails)  # nobody lost
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= 4  # at most one in flight per connection at the kill
    assert ledger_counts(engine) == {"sent": 60}
    assert "daily-" in out and "done" in out


@pytest.mark.slow
def test_sigterm_finishes_in_flight_and_releases_the_rest(engine: Engine) -> None:
    emails = seed(engine, 60)
    with FaultySMTPServer(Faults(delay=0.05)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__CONCURRENCY="4")
        first = start_send(env)
        server.wait_for(10)
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
        assert first.returncode == 1
        assert "stopped early (interrupted)" in err and "run `m5syndicate send` again" in err
        counts = ledger_counts(engine)
        assert counts["sending"] == 0  # nothing left claimed
        assert counts["sent"] == len(server.handler.received)  # everything accepted recorded
        rerun = start_send(env)
        _, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        received = server.handler.counts()
    assert sorted(received) == sorted(emails) and max(received.values()) == 1


@pytest.mark.slow
def test_two_senders_at_once_never_send_twice(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several senders at once is what PostgreSQL is for")
    emails = seed(engine, 300)
    with FaultySMTPServer(Faults(delay=0.002)) as server:
        env = send_env(engine, server.url, M5_DELIVERY__BATCH_SIZE="20")
        senders = [start_send(env), start_send(env)]
        results = [sender.communicate(timeout=120) for sender in senders]
        received = server.handler.counts()
    for sender, (_, err) in zip(senders, results, strict=True):
        assert sender.returncode == 0, err
    assert sorted(received) == sorted(emails) and max(received.values()) == 1
    assert ledger_counts(engine) == {"sent": 300}
    # Both did part of the work (each claims batches of 20).
    sent_by = [int(out.split("daily-", 1)[1].split()[2]) for out, _ in results]
    assert sum(sent_by) == 300


def test_permanent_failures_exit_3_and_are_listed(engine: Engine) -> None:
    emails = seed(engine, 5)
    with FaultySMTPServer(Faults(hard_bounce={emails[1]})) as server:
        result = start_send(send_env(engine, server.url))
        out, err = result.communicate(timeout=60)
    assert result.returncode == 3, err
    assert "1 delivery failed permanently:" in out
    assert f"{emails[1]}: 550 smtp: " in out and "refused the recipient (RCPT): 550 5.1.1" in out
    assert "--retry-failed" in out


def test_dry_run_sends_nothing_and_shows_variants(engine: Engine) -> None:
    seed(engine, 3)
    with FaultySMTPServer() as server:
        result = start_send(send_env(engine, server.url), "--dry-run")
        out, err = result.communicate(timeout=60)
        assert result.returncode == 0, err
        assert not server.handler.received
    assert "(draft, frozen when `send` runs): 2 articles" in out
    assert "tr html: 3 recipients, 2 articles" in out and "- Haber a" in out
    assert "3 messages, as fast as the relay allows" in out
    with engine.connect() as conn:
        assert edition_store.latest_edition(conn, "daily") is None  # nothing frozen


def test_test_to_sends_one_message_outside_the_ledger(engine: Engine) -> None:
    emails = seed(engine, 2)
    with FaultySMTPServer() as server:
        env = send_env(engine, server.url)
        result = start_send(env, "--test-to", "editor@m5.test", "--subscriber", emails[0])
        out, err = result.communicate(timeout=60)
        assert result.returncode == 0, err
        ((address, data),) = server.handler.received
    assert address == "editor@m5.test" and b"To: editor@m5.test" in data
    assert f"as {emails[0]} would get it to editor@m5.test" in out
    with engine.connect() as conn:
        assert edition_store.latest_edition(conn, "daily") is None


def status_of(engine: Engine, address: str) -> str:
    [found] = roster.list_subscribers(engine, search=address)
    return found.status


def test_test_send_cannot_unsubscribe_the_real_subscriber(engine: Engine, tmp_path: Path) -> None:
    """The test mail of a real subscriber: marked, its own Message-ID, and its
    List-Unsubscribe (https and mailto) inert on the live site with the live key."""
    emails = seed(engine, 1)
    with web_support.running_site(engine, tmp_path) as site, FaultySMTPServer() as server:
        env = send_env(
            engine,
            server.url,
            M5_SECRET_KEY=web_support.SECRET,
            M5_SITE__PUBLIC_URL=site.url,
        )
        result = start_send(env, "--test-to", "editor@m5.test", "--subscriber", emails[0])
        out, err = result.communicate(timeout=60)
        assert result.returncode == 0, err
        ((_, data),) = server.handler.received
        mail = email.message_from_bytes(data, policy=policy.default)
        assert str(mail["Subject"]).startswith("[TEST] ")
        [subscriber] = roster.list_subscribers(engine, search=emails[0])
        assert subscriber.id is not None
        assert not str(mail["Message-ID"]).startswith("<daily-")  # not the real delivery's
        assert str(mail["Message-ID"]).endswith("@example.org>")  # the From domain
        header = re.fullmatch(
            r"<(http[^>]+/unsubscribe/([^>]+))>, <mailto:unsubscribe\+([^@]+)@example\.org>",
            str(mail["List-Unsubscribe"]),
        )
        assert header is not None, mail["List-Unsubscribe"]
        url, token, mailto_token = header.groups()
        assert url.startswith(site.url)
        for inert in (token, mailto_token):
            assert verify_token(inert, UNSUBSCRIBE, web_support.SECRET) is None
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"})  # RFC 8058
        assert answer.status_code == 404
        text = mail.get_body(("plain",))
        assert text is not None
        for link in re.findall(r"http\S+/(?:unsubscribe|preferences)/\S+", text.get_content()):
            assert httpx.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 404
        assert status_of(engine, emails[0]) == "confirmed"
        # The control: the subscriber's real link does unsubscribe on this site.
        real = LinkSigner(site.url, web_support.SECRET).links(
            subscriber.id, subscriber.token_version
        )
        posted = httpx.post(real.unsubscribe_url, data={"List-Unsubscribe": "One-Click"})
        assert posted.status_code == 200
        assert status_of(engine, emails[0]) == "unsubscribed"
    assert "marked [TEST]" in out


def test_send_without_secret_key_says_how_to_set_it(engine: Engine) -> None:
    seed(engine, 1)
    env = send_env(engine, "smtp://127.0.0.1:1?starttls=off")
    env.pop("M5_SECRET_KEY")
    result = start_send(env)
    _, err = result.communicate(timeout=60)
    assert result.returncode == 1
    assert "M5_SECRET_KEY is not set" in err and "secrets.token_urlsafe" in err
    assert "Traceback" not in err

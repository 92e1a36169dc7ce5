"""The admin console over real HTTP: an admin added by the CLI logs in (Argon2id), every
console page renders, actions need the session and a CSRF token and land in the audit
log; the login is rate-limited; the bearer-token API keeps working beside it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from m5syndicate.cli import main
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.store import audit as audit_store
from m5syndicate.store import editions as edition_store
from m5syndicate.store import migrate
from m5syndicate.subscribers import roster
from tests.digests import add_subscribers, make_article, run_send, settings_for, store_articles
from tests.web_support import ADMIN_TOKEN, Site, database_url_of, running_site

ADMIN = "editor@example.org"
PASSWORD = "correct horse battery staple"


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def add_admin_by_cli(engine: Engine, password: str = PASSWORD) -> str:
    env = {"M5_DATABASE__URL": database_url_of(engine)}
    result = CliRunner().invoke(
        main, ["admin", "add-user", ADMIN, "--password-stdin"], input=password + "\n", env=env
    )
    return result.output


def edition_being_sent(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("korvet"), make_article("radar", language="en")])
    add_subscribers(engine, 3)
    settings = settings_for(database_url_of(engine), tmp_path)
    # Stopped by a limit after one message: the edition is still being sent.
    run_send(engine, settings, OutboxTransport(tmp_path / "sent"), limit=1)


@contextmanager
def console(engine: Engine, tmp_path: Path) -> Iterator[tuple[Site, httpx.Client]]:
    migrate.upgrade(engine)
    assert "added" in add_admin_by_cli(engine)
    with running_site(engine, tmp_path) as site, httpx.Client(base_url=site.url) as client:
        login = client.get("/admin/login?lang=en")
        answer = client.post(
            "/admin/login",
            data={
                "email": ADMIN,
                "password": PASSWORD,
                "next": "/admin/",
                "csrf_token": csrf_of(login),
            },
        )
        # Redirects are built on public_url, never on the Host header (web/guards.py).
        assert answer.status_code == 303 and answer.headers["location"] == f"{site.url}/admin/"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "m5_admin=" in cookie
        yield site, client


def test_admin_walks_the_console_and_every_action_is_audited(
    engine: Engine, tmp_path: Path
) -> None:
    edition_being_sent(engine, tmp_path)
    with console(engine, tmp_path) as (site, client):
        with site.runtime.engine.connect() as conn:
            [edition] = edition_store.list_recent_editions(conn)
        pages = {
            "/admin/": "Last 30 days",
            "/admin/editions": edition.slug,
            f"/admin/editions/{edition.id}": "Frozen articles",
            "/admin/subscribers": "@m5.test",
            "/admin/subscribers/import": "Import CSV",
            "/admin/sources": "Sources",
            "/admin/audit": "login",
        }
        for path, expected in pages.items():
            shown = client.get(path)
            assert shown.status_code == 200, (path, shown.text)
            assert expected in shown.text, path
            assert shown.headers["content-security-policy"].startswith("default-src 'none'")
        detail = client.get(f"/admin/editions/{edition.id}")
        assert 'sandbox=""' in detail.text and "srcdoc=" in detail.text
        token = csrf_of(detail)
        sent = client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf_token": token, "language": "tr", "format": "html"},
        )
        assert sent.status_code == 303 and "done=test" in sent.headers["location"]
        [test_mail] = [m for m in site.wait_for_mails(1) if m["To"] == ADMIN]
        assert "korvet" in test_mail.get_body(("plain",)).get_content().lower()
        assert test_mail["Subject"].startswith("[TEST] ")  # marked, its links inert
        paused = client.post(f"/admin/editions/{edition.id}/pause", data={"csrf_token": token})
        assert paused.status_code == 303
        with site.runtime.engine.connect() as conn:
            held = edition_store.get_edition(conn, edition.id or 0)
        assert (held.state, held.pause_cause) == ("held", "admin")
        assert ADMIN in held.pause_reason
        shown = client.get(f"/admin/editions/{edition.id}").text
        assert "an admin (an admin must resume it)" in shown and ADMIN in shown
        client.post(f"/admin/editions/{edition.id}/resume", data={"csrf_token": token})
        with site.runtime.engine.connect() as conn:
            resumed = edition_store.get_edition(conn, edition.id or 0)
        # Back to the senders (the retries job takes it up), the pause cleared.
        assert (resumed.state, resumed.pause_cause, resumed.pause_reason) == ("sending", "", "")

        csv = b"email,language\nnew@example.org,tr\nnot-an-address,tr\nother@example.org,xx\n"
        imported = client.post(
            "/admin/subscribers/import",
            data={"csrf_token": token},
            files={"file": ("list.csv", csv, "text/csv")},
        )
        assert imported.status_code == 200 and "1 added" in imported.text
        assert "not-an-address" in imported.text and "xx" in imported.text
        exported = client.post("/admin/subscribers/export", data={"csrf_token": token})
        assert exported.headers["content-type"].startswith("text/csv")
        assert "new@example.org" in exported.text

        [one] = roster.list_subscribers(site.runtime.engine, search="new@example.org")
        client.post(
            f"/admin/subscribers/{one.id}/suppress",
            data={"csrf_token": token, "email": "new@example.org"},
        )
        assert roster.show(site.runtime.engine, one.id or 0).subscriber.status == "unsubscribed"
        client.post(
            f"/admin/subscribers/{one.id}/forget",
            data={"csrf_token": token, "email": "new@example.org"},
        )
        assert roster.list_subscribers(site.runtime.engine, search="new@example.org") == []

        api = httpx.get(f"{site.url}/api/stats", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
        assert api.status_code == 200  # the bearer-token API keeps working
        with site.runtime.engine.connect() as conn:
            actions = [entry.action for entry in audit_store.recent_actions(conn)]
        out = client.post("/admin/logout", data={"csrf_token": token})
        assert out.status_code == 303
        assert client.get("/admin/").status_code == 303  # the session is gone
    assert actions[::-1] == [
        "admin_add",
        "login",
        "edition_test_send",
        "edition_pause",
        "edition_resume",
        "subscribers_import",
        "subscribers_export",
        "subscriber_suppress",
        "subscriber_forget",
    ]


def test_console_needs_login_csrf_and_limits_guessing(engine: Engine, tmp_path: Path) -> None:
    migrate.upgrade(engine)
    add_admin_by_cli(engine)
    with running_site(engine, tmp_path) as site, httpx.Client(base_url=site.url) as client:
        away = client.get("/admin/editions")
        assert away.status_code == 303
        assert away.headers["location"].startswith(f"{site.url}/admin/login")
        login = client.get("/admin/login?lang=en")
        token = csrf_of(login)
        no_csrf = client.post("/admin/login", data={"email": ADMIN, "password": PASSWORD})
        assert no_csrf.status_code == 403
        wrong = [
            client.post(
                "/admin/login",
                data={"email": ADMIN, "password": "wrong password!", "csrf_token": token},
            ).status_code
            for _ in range(11)
        ]
        assert wrong[:10] == [401] * 10 and wrong[10] == 429
        right = client.post(
            "/admin/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 429  # still limited: guessing is not rewarded
        forged = httpx.post(
            f"{site.url}/admin/login?next=//evil.example",
            data={"email": ADMIN, "password": PASSWORD},
        )
        assert forged.status_code == 403


@pytest.mark.parametrize("password", ["short", ""])
def test_add_user_refuses_a_weak_password(engine: Engine, password: str) -> None:
    migrate.upgrade(engine)
    output = add_admin_by_cli(engine, password)
    assert "at least 12 characters" in output


def test_session_cookie_is_secure_when_the_site_is_https(engine: Engine, tmp_path: Path) -> None:
    migrate.upgrade(engine)
    add_admin_by_cli(engine)
    https = {"M5_SITE__PUBLIC_URL": "https://news.example.org"}
    with running_site(engine, tmp_path, **https) as site, httpx.Client(base_url=site.url) as client:
        login = client.get("/admin/login")
        token = csrf_of(login)
        # The CSRF cookie is Secure too: httpx keeps it off plain http, so it is sent by hand.
        value = login.headers["set-cookie"].split(";")[0]
        answer = client.post(
            "/admin/login",
            data={"email": ADMIN, "password": PASSWORD, "csrf_token": token},
            headers={"cookie": value},
        )
    session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("m5_admin="))
    assert answer.status_code == 303
    assert "Secure" in session and "HttpOnly" in session and "Path=/admin" in session

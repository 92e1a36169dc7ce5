"""Hostile and broken input to the pages: a clean 4xx or the neutral page, never a 5xx,
and nothing stored that should not be. Runs over a real socket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import load_settings
from m5syndicate.runtime import Runtime
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.links import make_token
from m5syndicate.web.app import create_app
from tests.servers import UvicornThread
from tests.web_support import SECRET, Site, database_url_of, running_site

NEUTRAL = "E-posta kutunuza bakın"


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Site]:
    with running_site(sqlite_engine, tmp_path, M5_WEB__SUBSCRIBE_LIMIT="8") as running:
        yield running


def form(client: httpx.Client, site: Site) -> dict[str, str]:
    page = client.get(f"{site.url}/subscribe")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return {"csrf_token": token.group(1), "language": "tr", "cadence": "daily",
            "format": "html", "consent": "yes"}  # fmt: skip


def stored(site: Site) -> list[str]:
    return [s.email for s in roster.list_subscribers(site.runtime.engine)]


@pytest.mark.parametrize(
    "address",
    [
        "a@b.com\r\nBcc: x@y.com",
        "a@b.com\nBcc: x@y.com",
        "=?utf-8?q?a=0D=0ABcc:_x@y.com?=@example.com",
        "x@example.com?=\r\n =?utf-8?b?QmNjOiB4QHkuY29t?=",
        "a" * 300 + "@example.com",
        "not an address",
    ],
)
def test_bad_addresses_get_the_form_again_and_store_nothing(site: Site, address: str) -> None:
    with httpx.Client() as client:
        answer = client.post(f"{site.url}/subscribe", data={**form(client, site), "email": address})
    assert answer.status_code == 400
    assert "geçerli bir e-posta adresi" in answer.text
    assert stored(site) == [] and site.mails() == []


def test_overlong_and_foreign_fields_are_refused(site: Site) -> None:
    with httpx.Client() as client:
        base = {**form(client, site), "email": "ok@example.org"}
        for extra in (
            {"language": "de"},
            {"cadence": "x" * 10_000},
            {"categories": "not-a-category"},
            {"consent": ""},
            {"email": "a@example.org" + "x" * 20_000},
        ):
            answer = client.post(f"{site.url}/subscribe", data={**base, **extra})
            assert answer.status_code == 400, extra
        huge = client.post(f"{site.url}/subscribe", data={**base, "pad": "x" * 100_000})
        assert huge.status_code == 400
        upload = client.post(
            f"{site.url}/subscribe", data=base, files={"email": ("a.txt", b"ok@example.org")}
        )
        assert upload.status_code == 400
    assert stored(site) == []


def test_forged_or_missing_csrf_is_403(site: Site) -> None:
    with httpx.Client() as client:
        data = {**form(client, site), "email": "ok@example.org"}
        forged = client.post(f"{site.url}/subscribe", data={**data, "csrf_token": "0" * 64})
        assert forged.status_code == 403
    # Another site's page posting the form: the browser has no cookie of ours, or the
    # attacker cannot compute the token for it.
    stranger = httpx.post(f"{site.url}/subscribe", data=data)
    assert stranger.status_code == 403
    assert stored(site) == []


def test_honeypot_gets_the_neutral_page_and_stores_nothing(site: Site) -> None:
    with httpx.Client() as client:
        data = {**form(client, site), "email": "bot@example.org", "website": "http://spam"}
        answer = client.post(f"{site.url}/subscribe", data=data)
    assert answer.status_code == 200 and NEUTRAL in answer.text
    assert stored(site) == []


def test_existing_address_gets_exactly_the_same_page(site: Site) -> None:
    pages = []
    with httpx.Client() as client:
        for _ in range(2):
            data = {**form(client, site), "email": "same@example.org"}
            pages.append(client.post(f"{site.url}/subscribe", data=data))
    assert [p.status_code for p in pages] == [200, 200]
    assert pages[0].text == pages[1].text and NEUTRAL in pages[0].text
    assert len(site.wait_for_mails(1)) == 1  # one mail per 10 minutes


def test_a_flood_is_cut_by_the_rate_limit(site: Site) -> None:
    with httpx.Client() as client:
        data = form(client, site)
        codes = [
            client.post(
                f"{site.url}/subscribe", data={**data, "email": f"f{i}@example.org"}
            ).status_code
            for i in range(30)
        ]
    assert codes[:8] == [200] * 8 and set(codes[8:]) == {429}
    assert len(stored(site)) == 8


@pytest.mark.parametrize("path", ["/confirm/", "/preferences/", "/unsubscribe/"])
def test_every_bad_token_gets_the_same_page(site: Site, path: str) -> None:
    real = make_token(1, 1, "preferences", SECRET)
    bad_tokens = [
        "x",
        "1." + "a" * 32,
        real[:-3] + "abc",  # tampered
        make_token(1, 1, "unsubscribe" if "pref" in path else "preferences", SECRET),
        make_token(999, 1, "preferences", "another-secret-key-0123456789abc"),
        "y" * 3000,
    ]
    bodies = set()
    for token in bad_tokens:
        answer = httpx.get(f"{site.url}{path}{token}")
        assert answer.status_code == 404, token
        # The language switch links back to the same path; all else must be identical.
        bodies.add(re.sub(r'href="/[a-z]+/[^"?]*\?lang=', 'href="?lang=', answer.text))
        posted = httpx.post(f"{site.url}{path}{token}", data={"List-Unsubscribe": "One-Click"})
        assert 400 <= posted.status_code < 500
    assert len(bodies) == 1
    # Control characters are refused by their shape alone, before any lookup (guards.py).
    assert httpx.get(f"{site.url}{path}%00%0d%0a").status_code == 400


def test_pages_fail_clearly_without_a_secret_key(sqlite_engine: Engine) -> None:
    settings = load_settings(None, env={"M5_DATABASE__URL": database_url_of(sqlite_engine)})
    with UvicornThread(create_app(Runtime(settings))) as server:
        answer = httpx.get(f"{server.url}/subscribe")
    assert answer.status_code == 503
    assert "M5_SECRET_KEY is not set" in answer.text

"""The subscription flow over real HTTP (uvicorn on loopback), on both databases:
subscribe, the mail in the outbox, confirm by POST, preferences, one-click unsubscribe,
resubscribe; and the consent record each step leaves."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from m5syndicate.subscribers import roster
from tests.web_support import Site, running_site

FORM = {"language": "en", "cadence": "weekly", "format": "text", "consent": "yes"}


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def subscribe(client: httpx.Client, site: Site, address: str, **fields: str) -> httpx.Response:
    page = client.get(f"{site.url}/subscribe?lang=en")
    data = {**FORM, "email": address, "csrf_token": csrf_of(page), **fields}
    return client.post(f"{site.url}/subscribe?lang=en", data=data)


def status_of(site: Site, address: str) -> str:
    found = roster.list_subscribers(site.runtime.engine, search=address)
    return found[0].status if found else "absent"


def test_whole_flow_over_http(engine: Engine, tmp_path: Path) -> None:
    with running_site(engine, tmp_path) as site, httpx.Client() as client:
        answer = subscribe(client, site, "Reader@Example.org", categories="defence-news")
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        [mail] = site.wait_for_mails(1)
        assert mail["To"] == "Reader@example.org"
        assert "confirm" in mail["Subject"].lower()
        link = site.link_in(mail, "/confirm/")
        assert status_of(site, "reader@example.org") == "pending"

        page = client.get(link)  # what a link scanner does: nothing changes
        assert page.status_code == 200 and '<form method="post"' in page.text
        assert status_of(site, "reader@example.org") == "pending"
        done = client.post(link, data={"csrf_token": csrf_of(page)})
        assert done.status_code == 200 and "confirmed" in done.text
        assert status_of(site, "reader@example.org") == "confirmed"
        spent = client.post(link, data={"csrf_token": csrf_of(page)})  # spent: says so
        assert spent.status_code == 200 and "already confirmed" in spent.text
        assert status_of(site, "reader@example.org") == "confirmed"

        welcome = site.wait_for_mails(2)[1]
        assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        preferences = site.link_in(welcome, "/preferences/")
        page = client.get(preferences)
        assert 'value="defence-news" checked' in page.text
        saved = client.post(
            preferences,
            data={"csrf_token": csrf_of(page), "language": "tr", "cadence": "daily",
                  "format": "html", "categories": ["one-cikan", "defence-news"]},
        )  # fmt: skip
        assert saved.status_code == 200 and "kaydedildi" in saved.text  # now in Turkish
        [subscriber] = roster.list_subscribers(site.runtime.engine)
        assert (subscriber.language, subscriber.cadence, subscriber.format) == (
            "tr",
            "daily",
            "html",
        )
        assert subscriber.categories == ["defence-news", "one-cikan"]

        https, mailto = str(welcome["List-Unsubscribe"]).split(", ")
        unsubscribe_url = https.strip("<>")
        assert mailto.startswith("<mailto:unsubscribe+") and mailto.endswith("@example.org>")
        assert client.get(unsubscribe_url).status_code == 200
        assert status_of(site, "reader@example.org") == "confirmed"  # GET changed nothing
        # RFC 8058: a mail client's POST, no cookie, multipart body.
        gone = httpx.post(unsubscribe_url, files={"List-Unsubscribe": (None, "One-Click")})
        assert gone.status_code == 200 and not gone.is_redirect
        assert status_of(site, "reader@example.org") == "unsubscribed"
        # The mail client acted for the person: the 200 is the answer, no goodbye mail.
        assert len(site.wait_for_mails(3, timeout=1)) == 2

        again = client.get(preferences)
        action = re.search(r'action="(/resubscribe/[^"]+)"', again.text)
        assert action, again.text
        back = client.post(site.url + action.group(1), data={"csrf_token": csrf_of(again)})
        assert back.status_code == 200
        assert status_of(site, "reader@example.org") == "confirmed"

        record = roster.show(site.runtime.engine, subscriber.id or 0)
        kinds = [event["kind"] for event in record.events]
        assert kinds == ["subscribe", "confirm", "change", "unsubscribe", "resubscribe"]
        assert all(e["consent_version"] == "2026-11" for e in record.events)
        assert record.events[0]["ip"] == "127.0.0.1"
        assert "python-httpx" in record.events[0]["user_agent"]
        assert record.events[3]["via"] == "mail"


def test_one_click_urlencoded_without_cookie_and_get_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    with running_site(engine, tmp_path) as site, httpx.Client() as client:
        subscribe(client, site, "a@example.org")
        link = site.link_in(site.wait_for_mails(1)[0], "/confirm/")
        client.post(link, data={"csrf_token": csrf_of(client.get(link))})
        url = str(site.wait_for_mails(2)[1]["List-Unsubscribe"]).split(", ")[0].strip("<>")
        for _ in range(3):
            assert httpx.get(url).status_code == 200
        assert status_of(site, "a@example.org") == "confirmed"
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200 and not answer.is_redirect
        assert status_of(site, "a@example.org") == "unsubscribed"
        assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert len(site.wait_for_mails(3, timeout=1)) == 2  # no goodbye after a mail client's

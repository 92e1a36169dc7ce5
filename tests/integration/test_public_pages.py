"""The public pages over real HTTP: the archive index and editions in the pages' style and
language, with feed autodiscovery and the pages' CSP; the archive feed; and what a
returning confirmed subscriber meets (a mail with their links, a page that tells nothing;
a spent confirmation link that says they are confirmed)."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import httpx
from sqlalchemy.engine import Engine

from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from m5syndicate.web.render import HEADERS
from tests.digests import DEFENCE_NEWS, add_subscribers, make_article, run_send, settings_for
from tests.digests import store_articles as store
from tests.integration.test_web_subscribe import csrf_of, subscribe
from tests.servers import UvicornThread
from tests.web_support import running_site

CSP = HEADERS["Content-Security-Policy"]


def sent_archive(engine: Engine, tmp_path: Path) -> Runtime:
    store(engine, [make_article("korvet"), make_article("radar", language="en",
                                                        categories=[DEFENCE_NEWS])])  # fmt: skip
    add_subscribers(engine, 1)
    settings = settings_for(engine.url.render_as_string(hide_password=False), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    return Runtime(settings)


def test_archive_index_is_styled_localized_and_named_for_people(
    engine: Engine, tmp_path: Path
) -> None:
    runtime = sent_archive(engine, tmp_path)
    try:
        with UvicornThread(create_app(runtime)) as server:
            turkish = httpx.get(f"{server.url}/archive/?lang=tr")
            english = httpx.get(f"{server.url}/archive/", headers={"accept-language": "en"})
            edition = httpx.get(f"{server.url}/archive/daily-2026-11-28?lang=en")
    finally:
        runtime.close()
    assert turkish.status_code == 200 and '<html lang="tr">' in turkish.text
    assert "<title>Bülten arşivi" in turkish.text and "28 Kasım 2026 günlük bülten" in turkish.text
    assert "<style>" in turkish.text and 'hreflang="en"' in turkish.text
    assert "daily-2026-11-28</a>" not in turkish.text  # no slug as link text
    assert turkish.headers["content-security-policy"] == CSP
    assert "set-cookie" not in turkish.headers  # publicly cached: no CSRF cookie
    assert 'rel="alternate" type="application/atom+xml"' in turkish.text
    assert "/archive/feed.atom" in turkish.text
    assert "Daily newsletter, 28 November 2026" in english.text and 'lang="en"' in english.text
    assert edition.headers["content-security-policy"].startswith(CSP)
    assert 'href="/archive/?lang=en"' in edition.text and 'hreflang="tr"' in edition.text
    assert "/archive/feed.rss" in edition.text


def test_archive_feed_lists_sent_editions_in_atom_and_rss(engine: Engine, tmp_path: Path) -> None:
    runtime = sent_archive(engine, tmp_path)
    try:
        with UvicornThread(create_app(runtime)) as server:
            atom = httpx.get(f"{server.url}/archive/feed.atom?lang=en")
            rss = httpx.get(f"{server.url}/archive/feed.rss")
            other = httpx.get(f"{server.url}/archive/feed.xml")
    finally:
        runtime.close()
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed_atom, parsed_rss = feedparser.parse(atom.content), feedparser.parse(rss.content)
    assert not parsed_atom.bozo and not parsed_rss.bozo
    [entry] = parsed_atom.entries
    assert entry.title == "Daily newsletter, 28 November 2026"
    assert entry.link.endswith("/archive/daily-2026-11-28?lang=en")
    assert parsed_rss.entries[0].title == "28 Kasım 2026 günlük bülten"
    assert parsed_rss.entries[0].published_parsed is not None
    assert other.status_code == 404


def test_a_returning_subscriber_gets_their_links_by_mail_and_the_same_page(
    engine: Engine, tmp_path: Path
) -> None:
    with running_site(engine, tmp_path) as site, httpx.Client() as client:
        subscribe(client, site, "back@example.org")
        [mail] = site.wait_for_mails(1)
        link = site.link_in(mail, "/confirm/")
        page = client.get(link)
        client.post(link, data={"csrf_token": csrf_of(page)})
        site.wait_for_mails(2)  # the welcome

        first = subscribe(client, site, "back@example.org")
        again = subscribe(client, site, "back@example.org")  # within the window: no mail
        new = subscribe(client, site, "new@example.org")
        mails = site.wait_for_mails(4)
        spent = client.get(link)
    assert first.text == new.text  # nothing tells a subscribed address from a new one
    assert again.status_code == 200
    reminders = [m for m in mails if m["To"] == "back@example.org"][2:]
    assert len(reminders) == 1 and "/preferences/" in site.link_in(reminders[0], "/preferences/")
    assert len(mails) == 4  # confirm, welcome, reminder; the new address's confirm
    assert spent.status_code == 200 and "already confirmed" in spent.text
    assert re.search(r'href="/preferences/[^"]+"', spent.text)


def test_a_bad_confirm_link_is_still_invalid(engine: Engine, tmp_path: Path) -> None:
    with running_site(engine, tmp_path) as site:
        page = httpx.get(f"{site.url}/confirm/1.{'A' * 32}?lang=en")
    assert page.status_code == 404 and "not valid" in page.text

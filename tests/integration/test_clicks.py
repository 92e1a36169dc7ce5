"""Click counts over real HTTP, on SQLite and PostgreSQL: a digest sent by the runtime's
own parts carries /r/ links; following one counts it and redirects to the article (its
URL as stored now); HEAD, robots and forged links count nothing; concurrent clicks all
count; the console's edition page shows the counts, most clicked first."""

from __future__ import annotations

import asyncio
import logging
import re
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from m5syndicate.delivery.send import SendOptions, send_due
from m5syndicate.store import articles as article_store
from m5syndicate.store import clicks as click_store
from m5syndicate.store import editions as edition_store
from m5syndicate.subscribers.links import LinkSigner
from m5syndicate.web.clicks import REDIRECT_HEADERS
from tests.digests import NOW, add_subscribers, make_article, store_articles
from tests.integration.test_console import ADMIN, console, csrf_of
from tests.web_support import ADMIN_TOKEN, SECRET, Site, running_site

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
CONCURRENT = 40


def send_edition(site: Site) -> None:
    async def go() -> None:
        async with site.runtime.sending() as parts:
            await send_due(parts, NOW, SendOptions(cadences=("daily",)))

    asyncio.run(go())


def texts(message: EmailMessage) -> str:
    """Every part, decoded, with plain newlines."""
    parts = [part.get_content() for part in message.walk() if not part.is_multipart()]
    return "\n".join(parts).replace("\r\n", "\n")


def click_links(site: Site, message: EmailMessage) -> dict[str, str]:
    """Headline -> its click link, from the text part."""
    found = re.findall(
        r"^(Haber \w+)\n.*\n.*\n(" + re.escape(site.url) + r"/r/\S+)$", texts(message), re.M
    )
    return dict(found)


def counted(site: Site) -> dict[int, int]:
    with site.runtime.engine.connect() as conn:
        [edition] = edition_store.list_recent_editions(conn)
        return click_store.edition_clicks(conn, edition.id or 0)


def sent_site_setup(engine: Engine) -> list[int]:
    ids = store_articles(
        engine, [make_article("korvet", hours_ago=3), make_article("uydu", hours_ago=2)]
    )
    add_subscribers(engine, 2)
    return ids


async def many_clicks(url: str, count: int) -> list[int]:
    async with httpx.AsyncClient(headers=BROWSER) as client:
        answers = await asyncio.gather(*(client.get(url) for _ in range(count)))
    return [answer.status_code for answer in answers]


def test_clicks_are_counted_and_lead_to_the_article(engine: Engine, tmp_path: Path) -> None:
    korvet_id, uydu_id = sent_site_setup(engine)
    with running_site(engine, tmp_path) as site:
        send_edition(site)
        mails = site.wait_for_mails(2)
        links = click_links(site, mails[0])
        assert set(links) == {"Haber korvet", "Haber uydu"}
        assert links == click_links(site, mails[1])  # the same link for every reader
        assert "https://m5.test/korvet/" not in texts(mails[0])  # every article link counts
        korvet = links["Haber korvet"]
        assert re.fullmatch(re.escape(site.url) + rf"/r/\d+/{korvet_id}/[\w-]+", korvet)

        with httpx.Client(headers=BROWSER) as client:
            answer = client.get(korvet)
            assert answer.status_code == 302
            assert answer.headers["location"] == "https://m5.test/korvet/"
            for name, value in REDIRECT_HEADERS.items():
                assert answer.headers[name] == value
            assert client.get(korvet).status_code == 302
            assert client.head(korvet).status_code == 302  # HEAD: redirected, not counted
            robot = client.get(korvet, headers={"User-Agent": "Googlebot/2.1"})
            assert robot.status_code == 302
            prefetch = client.get(korvet, headers={"Sec-Purpose": "prefetch"})
            assert prefetch.status_code == 302
        assert counted(site) == {korvet_id: 2}

        assert set(asyncio.run(many_clicks(links["Haber uydu"], CONCURRENT))) == {302}
        assert counted(site) == {korvet_id: 2, uydu_id: CONCURRENT}  # none lost, none twice


def test_forged_and_foreign_links_go_nowhere(engine: Engine, tmp_path: Path) -> None:
    korvet_id, uydu_id = sent_site_setup(engine)
    with running_site(engine, tmp_path) as site, httpx.Client(headers=BROWSER) as client:
        send_edition(site)
        link = click_links(site, site.wait_for_mails(2)[0])["Haber korvet"]
        edition_id = int(link.split("/")[-3])
        signature = link.rsplit("/", 1)[1]
        other_key = LinkSigner(site.url, SECRET + "-not-ours", count_clicks=True)
        not_in_edition = LinkSigner(site.url, SECRET, count_clicks=True)
        forged = [
            f"{site.url}/r/{edition_id}/{uydu_id}/{signature}",  # another article's
            f"{site.url}/r/{edition_id + 1}/{korvet_id}/{signature}",  # another edition's
            link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
            f"{site.url}/r/{edition_id}/{korvet_id}/",
            other_key.article_link(edition_id, korvet_id, "https://m5.test/korvet/"),
            # Signed by us, but no such article in that edition: nothing to lead to.
            not_in_edition.article_link(edition_id, 999, "https://evil.example/"),
            f"{site.url}/r/{edition_id}/{korvet_id}/{signature}?to=https://evil.example/",
        ]
        for url in forged[:-1]:
            answer = client.get(url)
            assert answer.status_code == 404, url
            assert "location" not in answer.headers
        # A query string cannot choose the target: it still comes from the database.
        assert client.get(forged[-1]).headers["location"] == "https://m5.test/korvet/"
        assert counted(site) == {korvet_id: 1}


def test_the_target_is_the_stored_url_and_a_withdrawn_article_leads_to_the_archive(
    engine: Engine, tmp_path: Path
) -> None:
    korvet_id, uydu_id = sent_site_setup(engine)
    with running_site(engine, tmp_path) as site, httpx.Client(headers=BROWSER) as client:
        send_edition(site)
        links = click_links(site, site.wait_for_mails(2)[0])
        with site.runtime.engine.begin() as conn:
            article_store.set_status(conn, [korvet_id], {"url": "https://m5.test/yeni-adres/"})
            article_store.set_status(conn, [uydu_id], article_store.withdrawn_values(NOW, "x"))
            [edition] = edition_store.list_recent_editions(conn)
        moved = client.get(links["Haber korvet"])
        assert moved.headers["location"] == "https://m5.test/yeni-adres/"  # a changed slug
        gone = client.get(links["Haber uydu"])
        assert gone.status_code == 302
        assert gone.headers["location"] == f"{site.url}/archive/{edition.slug}?lang=tr"
        page = client.get(gone.headers["location"])
        assert page.status_code == 200 and "yayından kaldırıldı" in page.text
        assert counted(site) == {korvet_id: 1}


def test_with_clicks_off_mails_link_directly_and_old_links_still_work(
    engine: Engine, tmp_path: Path
) -> None:
    korvet_id, _ = sent_site_setup(engine)
    with running_site(engine, tmp_path, M5_TRACKING__CLICKS="false") as site:
        send_edition(site)
        text = texts(site.wait_for_mails(2)[0])
        assert "https://m5.test/korvet/" in text and "/r/" not in text
        with site.runtime.engine.connect() as conn:
            [edition] = edition_store.list_recent_editions(conn)
        sent_earlier = LinkSigner(site.url, SECRET, count_clicks=True).article_link(
            edition.id, korvet_id, "https://m5.test/korvet/"
        )
        answer = httpx.get(sent_earlier, headers=BROWSER)
        assert answer.status_code == 302 and answer.headers["location"] == "https://m5.test/korvet/"
        assert counted(site) == {}


def test_the_console_and_the_api_list_clicks_most_clicked_first(
    engine: Engine, tmp_path: Path
) -> None:
    korvet_id, uydu_id = sent_site_setup(engine)
    with running_site(engine, tmp_path) as site:
        send_edition(site)
        links = click_links(site, site.wait_for_mails(2)[0])
        asyncio.run(many_clicks(links["Haber korvet"], 2))
        asyncio.run(many_clicks(links["Haber uydu"], 5))
        edition_id = int(links["Haber uydu"].split("/")[-3])
        api = f"{site.url}/api/editions/{edition_id}/clicks"
        shown = httpx.get(api, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert shown.status_code == 200
        assert shown.json() == {
            "edition_id": edition_id,
            "slug": "daily-2026-11-28",
            "state": "done",
            "total": 7,
            "articles": [
                {"article_id": uydu_id, "title": "Haber uydu", "clicks": 5,
                 "url": "https://m5.test/uydu/"},
                {"article_id": korvet_id, "title": "Haber korvet", "clicks": 2,
                 "url": "https://m5.test/korvet/"},
            ],
        }  # fmt: skip
        assert httpx.get(api).status_code == 401
        missing = httpx.get(
            f"{site.url}/api/editions/{edition_id + 1}/clicks",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert missing.status_code == 404 and "no edition" in missing.json()["error"]
    with console(engine, tmp_path / "console") as (admin_site, client):
        with admin_site.runtime.engine.connect() as conn:
            [edition] = edition_store.list_recent_editions(conn)
        page = client.get(f"/admin/editions/{edition.id}").text
        table = page.split('<table class="clicks">', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r'<tr><td>(Haber \w+)</td><td class="count">(\d+)</td></tr>', table)
        assert rows == [("Haber uydu", "5"), ("Haber korvet", "2")]
        assert '<td class="count">7</td>' in table  # the total
        # An admin's clicks are not readers': previews and test mails link directly.
        assert "/r/" not in page and "https://m5.test/uydu/" in page
        token = csrf_of(client.get(f"/admin/editions/{edition.id}"))
        client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf_token": token, "language": "tr", "format": "html"},
        )
        [test_mail] = [m for m in admin_site.wait_for_mails(1) if m["To"] == ADMIN]
        assert "/r/" not in texts(test_mail) and "https://m5.test/uydu/" in texts(test_mail)


def test_a_count_that_fails_still_leads_to_the_article(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent_site_setup(engine)
    with running_site(engine, tmp_path) as site:
        send_edition(site)
        link = click_links(site, site.wait_for_mails(2)[0])["Haber korvet"]
        with site.runtime.engine.begin() as conn:
            conn.execute(text("DROP TABLE article_clicks"))  # every count now fails
        with caplog.at_level(logging.WARNING, logger="m5.web"):
            answer = httpx.get(link, headers=BROWSER)
        assert answer.status_code == 302
        assert answer.headers["location"] == "https://m5.test/korvet/"
        assert "click: not counted for edition" in caplog.text

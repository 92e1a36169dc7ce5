"""Click counts in Debian's headless Chromium: a reader opens the digest's HTML, clicks
its headlines and lands on the articles (through the /r/ redirect); the console's
edition page shows each article's clicks, most clicked first, and passes axe-core."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.engine import Engine

from m5syndicate.store import editions as edition_store
from tests.browser.test_console_browser import accessible
from tests.browser.test_subscribe_flow import CHROMIUM
from tests.digests import add_subscribers, make_article, store_articles
from tests.integration.test_clicks import send_edition
from tests.integration.test_console import ADMIN, PASSWORD, add_admin_by_cli
from tests.web_support import running_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
    ),
]
# A reader's browser: headless Chromium names itself HeadlessChrome, which is not counted.
READER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def test_clicks_in_the_mail_show_on_the_console(
    browser: Browser, sqlite_engine: Engine, tmp_path: Path
) -> None:
    add_admin_by_cli(sqlite_engine)
    with running_site(sqlite_engine, tmp_path) as site:
        # The articles "live" on pages of the test site, so the browser can land on them.
        korvet = replace(make_article("korvet", hours_ago=3), url=f"{site.url}/archive/")
        uydu = replace(make_article("uydu", hours_ago=2), url=f"{site.url}/subscribe")
        store_articles(site.runtime.engine, [korvet, uydu])
        add_subscribers(site.runtime.engine, 1)
        with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
            pool.submit(send_edition, site).result()
        [mail] = site.wait_for_mails(1)
        html = mail.get_body(("html",))
        assert html is not None

        context = browser.new_context(user_agent=READER_AGENT)
        page = context.new_page()
        for headline, landing in (
            ("Haber uydu", "/subscribe"),
            ("Haber uydu", "/subscribe"),
            ("Haber korvet", "/archive/"),
        ):
            page.set_content(str(html.get_content()))  # the mail, as a webmail shows it
            link = page.get_by_role("link", name=headline, exact=True)
            assert re.search(r"/r/\d+/\d+/", link.get_attribute("href") or "")
            link.click()
            expect(page).to_have_url(site.url + landing)

        page.goto(f"{site.url}/admin/login?lang=en")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.locator("main button[type=submit]").click()
        expect(page).to_have_url(f"{site.url}/admin/")
        with site.runtime.engine.connect() as conn:
            [edition] = edition_store.list_recent_editions(conn)
        page.goto(f"{site.url}/admin/editions/{edition.id}")
        rows = page.locator("table.clicks tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Haber uydu")
        expect(rows.nth(0).locator("td").nth(1)).to_have_text("2")
        expect(rows.nth(1)).to_contain_text("Haber korvet")
        expect(rows.nth(1).locator("td").nth(1)).to_have_text("1")
        expect(page.locator("table.clicks tfoot td")).to_have_text("3")
        page.locator("#clicks").scroll_into_view_if_needed()
        accessible(page, "console-en-edition-clicks")
        context.close()

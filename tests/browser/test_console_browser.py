"""The admin console and the public pages in Debian's headless Chromium (Playwright):
an admin logs in, walks every console page, sends a test, pauses and resumes an edition,
imports a CSV with bad lines; axe-core (bundled by axe-playwright-python, no network)
finds no serious or critical violation on any page. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from m5syndicate.store import editions as edition_store
from m5syndicate.store import migrate
from tests.browser.test_subscribe_flow import CHROMIUM, shot
from tests.integration.test_console import ADMIN, PASSWORD, add_admin_by_cli, edition_being_sent
from tests.web_support import running_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
    ),
]
AXE = Axe()
BLOCKING = ("serious", "critical")


def accessible(page: Page, name: str) -> None:
    """axe-core on the page as shown; a screenshot of it either way."""
    shot(page, name)
    found = AXE.run(page).response["violations"]
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in BLOCKING
    ]
    assert not bad, f"{name}: " + "; ".join(bad)


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [("tr", {"width": 390, "height": 844}), ("en", {"width": 1280, "height": 900})],
)
def test_console_in_a_browser(
    browser: Browser, sqlite_engine: Engine, tmp_path: Path, lang: str, viewport: dict[str, int]
) -> None:
    # Playwright's loop runs in this thread: the send (asyncio.run) gets its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(edition_being_sent, sqlite_engine, tmp_path).result()
    migrate.upgrade(sqlite_engine)
    add_admin_by_cli(sqlite_engine)
    with running_site(sqlite_engine, tmp_path) as site:
        with site.runtime.engine.connect() as conn:
            [edition] = edition_store.list_recent_editions(conn)
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        for path in ("/", "/subscribe", "/archive/", f"/archive/{edition.slug}"):
            page.goto(f"{site.url}{path}?lang={lang}")
            accessible(page, f"public-{lang}{path.replace('/', '-').rstrip('-')}")

        page.goto(f"{site.url}/admin/editions?lang={lang}")  # the login first, then back
        accessible(page, f"console-{lang}-login")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.locator("main button[type=submit]").click()
        expect(page).to_have_url(f"{site.url}/admin/editions")
        expect(page.locator("html")).to_have_attribute("lang", lang)  # kept from the login

        for path in (
            "/admin/",
            "/admin/editions",
            "/admin/subscribers",
            "/admin/sources",
            "/admin/subscribers/import",
            "/admin/audit",
        ):
            page.goto(site.url + path)
            expect(page.locator("h1")).to_be_visible()
            accessible(page, f"console-{lang}{path.replace('/', '-').rstrip('-')}")

        page.goto(f"{site.url}/admin/editions/{edition.id}")
        frame = page.frame_locator("iframe").first
        expect(frame.locator("body")).to_contain_text("korvet", ignore_case=True)
        accessible(page, f"console-{lang}-edition")
        page.locator("form[action$='/test'] button").first.click()
        expect(page.locator(".notice")).to_be_visible()
        assert any(m["To"] == ADMIN for m in site.wait_for_mails(1))
        page.locator("form[action$='/pause'] button").click()
        expect(page.locator("h1")).to_contain_text("held")
        expect(page.locator(".notice.pause")).to_contain_text(ADMIN)  # who held it, and why
        page.locator("form[action$='/resume'] button").click()
        expect(page.locator("h1")).to_contain_text("sending")  # back to the senders
        shot(page, f"console-{lang}-resumed")

        csv = tmp_path / "list.csv"
        csv.write_text("email,language\nnew@example.org,tr\nnot-an-address,tr\n", "utf-8")
        page.goto(f"{site.url}/admin/subscribers/import")
        page.set_input_files("#file", str(csv))
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main table")).to_contain_text("not-an-address")
        expect(page.locator(".notice")).to_contain_text("1")
        accessible(page, f"console-{lang}-imported")
        context.close()

"""The whole subscription flow in Debian's headless Chromium (driven by Playwright), in
Turkish on a phone-sized screen and in English on a desktop one: subscribe, read the
confirmation link from the outbox, confirm, change preferences, unsubscribe with one
click, resubscribe. Screenshots go to tests/artifacts/ (not tracked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from m5syndicate.subscribers import roster
from tests.conftest import REPO
from tests.web_support import running_site

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WORDS = {
    "tr": {"subscribe": "Abone ol", "check": "E-posta kutunuza bakın", "confirm": "Onaylıyorum",
           "confirmed": "Aboneliğiniz onaylandı", "weekly": "Haftalık", "save": "Kaydet",
           "saved": "Tercihleriniz kaydedildi", "unsubscribe": "Abonelikten çık",
           "goodbye": "Abonelikten çıktınız", "again": "Yeniden abone ol",
           "back": "Yeniden hoş geldiniz", "category": "Defence News"},
    "en": {"subscribe": "Subscribe", "check": "Check your inbox", "confirm": "Confirm",
           "confirmed": "Your subscription is confirmed", "weekly": "Weekly", "save": "Save",
           "saved": "Your preferences are saved", "unsubscribe": "Unsubscribe",
           "goodbye": "You are unsubscribed", "again": "Subscribe again",
           "back": "Welcome back", "category": "Öne Çıkan"},
}  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
    ),
]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [("tr", {"width": 390, "height": 844}), ("en", {"width": 1280, "height": 900})],
)
def test_subscribe_confirm_change_leave_in_a_browser(
    browser: Browser, sqlite_engine: Engine, tmp_path: Path, lang: str, viewport: dict[str, int]
) -> None:
    words = WORDS[lang]
    address = f"okur.{lang}@example.org"
    with running_site(sqlite_engine, tmp_path) as site:
        context = browser.new_context(
            viewport=viewport, locale="tr-TR" if lang == "tr" else "en-GB"
        )
        page = context.new_page()
        page.goto(f"{site.url}/subscribe")  # language from Accept-Language
        expect(page.locator("html")).to_have_attribute("lang", lang)
        assert page.locator('link[rel="alternate"][type="application/atom+xml"]').count() >= 1
        page.fill("#email", address)
        page.check(f"text={words['category']}")
        page.check("input[name=consent]")
        shot(page, f"{lang}-1-subscribe")
        page.click(f"button:has-text('{words['subscribe']}')")
        expect(page.locator("h1")).to_have_text(words["check"])

        link = site.link_in(site.wait_for_mails(1)[0], "/confirm/")
        page.goto(link)
        shot(page, f"{lang}-2-confirm")
        assert roster.list_subscribers(site.runtime.engine)[0].status == "pending"
        page.click(f"button:has-text('{words['confirm']}')")
        expect(page.locator("h1")).to_have_text(words["confirmed"])
        shot(page, f"{lang}-3-confirmed")

        welcome = site.wait_for_mails(2)[1]
        page.goto(site.link_in(welcome, "/preferences/"))
        page.check(f"text={words['weekly']}")
        page.click(f"button:has-text('{words['save']}')")
        expect(page.locator(".notice")).to_contain_text(words["saved"])
        shot(page, f"{lang}-4-preferences")
        [subscriber] = roster.list_subscribers(site.runtime.engine)
        assert subscriber.cadence == "weekly" and subscriber.language == lang

        page.goto(str(welcome["List-Unsubscribe"]).split(", ")[0].strip("<>"))  # https, mailto
        page.click(f"button:has-text('{words['unsubscribe']}')")
        expect(page.locator("h1")).to_have_text(words["goodbye"])
        shot(page, f"{lang}-5-goodbye")
        assert roster.list_subscribers(site.runtime.engine)[0].status == "unsubscribed"

        page.click(f"button:has-text('{words['again']}')")
        expect(page.locator("h1")).to_have_text(words["back"])
        assert roster.list_subscribers(site.runtime.engine)[0].status == "confirmed"
        context.close()

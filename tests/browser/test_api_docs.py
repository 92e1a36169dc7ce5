"""/api/docs in Debian's headless Chromium: Swagger UI renders every operation of the
admin API from this site's assets under the page's CSP, and "Try it out" with the bearer
token reaches the API. Outside requests would fail here: the machine has no internet."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, expect
from sqlalchemy.engine import Engine

from m5syndicate.web.api import openapi_document
from tests.browser.test_subscribe_flow import CHROMIUM
from tests.web_support import ADMIN_TOKEN, running_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
    ),
]


def test_api_docs_render_and_try_a_call(
    browser: Browser, sqlite_engine: Engine, tmp_path: Path
) -> None:
    operations = sum(len(ops) for ops in openapi_document()["paths"].values())
    with running_site(sqlite_engine, tmp_path) as site:
        page = browser.new_page()
        complaints: list[str] = []
        elsewhere: list[str] = []
        page.on("console", lambda m: complaints.append(m.text) if is_problem(m) else None)
        page.on("request", lambda r: elsewhere.append(r.url) if leaves(r, site.url) else None)
        page.goto(f"{site.url}/api/docs")
        expect(page.locator(".opblock")).to_have_count(operations)

        page.click("button.authorize")
        page.fill(".auth-container input", ADMIN_TOKEN)
        page.click(".auth-btn-wrapper button.authorize")
        page.click("button.btn-done")
        page.click("#operations-default-stats")
        page.click("#operations-default-stats button.try-out__btn")
        page.click("#operations-default-stats button.execute")
        expect(page.locator("#operations-default-stats .live-responses-table")).to_contain_text(
            '"suppressed": 0'
        )
        page.close()
    assert not complaints and not elsewhere, (complaints, elsewhere)


def is_problem(message: ConsoleMessage) -> bool:
    return message.type == "error" or "Content Security Policy" in message.text


def leaves(request: Request, site: str) -> bool:
    return not request.url.startswith((site, "data:"))

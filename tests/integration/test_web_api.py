"""The admin JSON API over a real socket: bearer token, list/search/add/show/remove/stats,
and a bounded fuzz run generated from its own OpenAPI document (schemathesis): no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import Engine

from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.subscriptions import Consent
from m5syndicate.web.api import MAX_JSON_BYTES, PREFIX, openapi_document
from tests.digests import NOW
from tests.web_support import ADMIN_TOKEN, Site, running_site

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def api_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the module (the fuzz run makes hundreds of calls)."""
    folder = tmp_path_factory.mktemp("api")
    engine = make_engine(f"sqlite:///{folder / 'api.db'}")
    upgrade(engine)
    with running_site(engine, folder) as site:
        yield site
    engine.dispose()


def test_api_needs_the_bearer_token(engine: Engine, tmp_path: Path) -> None:
    with running_site(engine, tmp_path) as site:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
            answer = httpx.get(f"{site.url}/api/subscribers", headers=headers)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        # FastAPI writes OpenAPI 3.1 (pydantic's JSON Schema); the hand-written one was 3.0.3.
        assert httpx.get(f"{site.url}/api/openapi.json").json()["openapi"] == "3.1.0"


def test_api_is_off_without_a_configured_token(engine: Engine, tmp_path: Path) -> None:
    with running_site(engine, tmp_path, M5_ADMIN_TOKEN="") as site:
        answer = httpx.get(f"{site.url}/api/stats", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 401 and "M5_ADMIN_TOKEN" in answer.json()["error"]


def test_api_add_list_search_show_remove_stats(engine: Engine, tmp_path: Path) -> None:
    with running_site(engine, tmp_path) as site, httpx.Client(headers=AUTH) as api:
        added = api.post(
            f"{site.url}/api/subscribers",
            json={"email": "Ayse@Example.org", "language": "tr", "confirmed": True,
                  "categories": ["defence-news"], "name": "Ayşe"},
        )  # fmt: skip
        assert added.status_code == 201 and added.json()["outcome"] == "added"
        again = api.post(f"{site.url}/api/subscribers", json={"email": "ayse@example.org"})
        assert again.status_code == 200 and again.json()["outcome"] == "exists"
        pending = api.post(f"{site.url}/api/subscribers", json={"email": "new@example.org"})
        assert pending.status_code == 201
        assert len(site.wait_for_mails(1)) == 1  # a pending address gets its confirmation
        bad = api.post(f"{site.url}/api/subscribers", json={"email": "a@b.com\r\nBcc: x@y.com"})
        assert bad.status_code == 400 and "email" in bad.json()["error"]

        page = api.get(f"{site.url}/api/subscribers", params={"q": "ayse"}).json()
        assert [s["email"] for s in page["items"]] == ["Ayse@example.org"]
        sid = page["items"][0]["id"]
        shown = api.get(f"{site.url}/api/subscribers/{sid}").json()
        assert [e["kind"] for e in shown["consent_events"]] == ["subscribe", "confirm"]
        assert shown["consent_events"][0]["via"] == "api"
        assert api.delete(f"{site.url}/api/subscribers/{sid}").json() == {
            "id": sid,
            "removed": True,
        }
        stats = api.get(f"{site.url}/api/stats").json()
        assert stats == {"pending": 1, "confirmed": 0, "unsubscribed": 1, "suppressed": 0}
        assert api.get(f"{site.url}/api/subscribers/999999").status_code == 404
        assert api.get(f"{site.url}/api/subscribers", params={"status": "x"}).status_code == 400
        assert api.get(f"{site.url}/api/subscribers", params={"limit": "0"}).status_code == 400


def test_api_refuses_bad_requests_with_a_json_error_naming_the_field(api_site: Site) -> None:
    with httpx.Client(base_url=f"{api_site.url}/api", headers=AUTH) as api:
        typo = api.post("/subscribers", json={"email": "a@example.org", "cadense": "daily"})
        assert typo.status_code == 400 and typo.json()["error"].startswith("cadense: ")
        wrong_type = api.post("/subscribers", json={"email": "a@example.org", "confirmed": "y"})
        assert wrong_type.status_code == 400 and "confirmed: " in wrong_type.json()["error"]
        not_json = api.post("/subscribers", content=b"{", headers={"content-type": "x"})
        assert not_json.status_code == 400 and "error" in not_json.json()
        too_big = api.post("/subscribers", content=b" " * (MAX_JSON_BYTES + 1))
        assert too_big.status_code == 400 and str(MAX_JSON_BYTES) in too_big.json()["error"]
        huge_id = api.get(f"/subscribers/{2**64}")
        assert huge_id.status_code == 400 and huge_id.json()["error"].startswith("subscriber_id")
        assert api.get("/nowhere").json() == {"error": "Not Found"}
        choice = api.post("/subscribers", json={"email": "a@example.org", "cadence": "hourly"})
        assert choice.status_code == 400 and "cadence" in choice.json()["error"]


def test_api_docs_page_needs_nothing_from_outside(api_site: Site) -> None:
    page = httpx.get(f"{api_site.url}/api/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "http" not in page.text  # every asset is this site's
    assets = ("docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css", "docs/start.js")
    for asset in assets:
        answer = httpx.get(f"{api_site.url}/api/{asset}")
        assert answer.status_code == 200 and asset in page.text and len(answer.content) > 100


def test_api_unsuppress(engine: Engine, tmp_path: Path) -> None:
    consent = Consent("cli", "")
    roster.suppress(engine, "gone@example.org", NOW, consent, "550 5.1.1 read wrongly")
    with running_site(engine, tmp_path) as site, httpx.Client(headers=AUTH) as api:
        undone = api.delete(f"{site.url}/api/suppressions/gone@example.org")
        assert undone.status_code == 200
        assert undone.json() == {
            "email": "gone@example.org",
            "unsuppressed": True,
            "was": "550 5.1.1 read wrongly",
        }
        assert api.delete(f"{site.url}/api/suppressions/gone@example.org").status_code == 404
        assert api.get(f"{site.url}/api/stats").json()["suppressed"] == 0


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_api_calls_never_get_a_server_error(case: schemathesis.Case, api_site: Site) -> None:
    # The document's paths are relative to its server, /api.
    response = case.call(base_url=f"{api_site.url}{PREFIX}", headers=AUTH, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    # Every answer is the API's JSON: a path that missed the API would get the site's page.
    assert response.headers["content-type"] == ["application/json"], case.formatted_path

"""Hypothesis against the public pages over a real socket: any path segment, query or
form body gets an answer below 500. (schemathesis covers /api from its OpenAPI document.)
Runs on SQLite and, with M5_TEST_DATABASE_URL, on PostgreSQL (which refuses NUL bytes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.web_support import Site, running_site

PAGES = ("/confirm/{}", "/preferences/{}", "/unsubscribe/{}", "/resubscribe/{}",
         "/archive/{}", "/feeds/{}")  # fmt: skip
FIXED = ("/", "/subscribe", "/archive/", "/feeds.opml", "/healthz")
FIELDS = ("email", "language", "cadence", "format", "consent", "categories", "website",
          "csrf_token", "List-Unsubscribe")  # fmt: skip
RUNS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.text(st.characters(codec="utf-8"), max_size=60)
segments = st.one_of(
    texts,
    st.sampled_from(["daily-2026-12-01%00", "..", "%2e%2e", "%ff%fe", "a" * 5000, "%"]),
)
queries = st.dictionaries(st.sampled_from(["lang", "q", "secret", "x"]), texts, max_size=3)
forms = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(texts, st.sampled_from(["yes", "One-Click"])), max_size=6
)


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    with running_site(engine, tmp_path) as running:
        yield running


def target(page: str, segment: str, query: dict[str, str]) -> str:
    """The raw target: a segment either percent-encoded or sent as hypothesis wrote it
    (when it is a valid request target)."""
    raw = segment if re.fullmatch(r"[!-~]*", segment) and "?" not in segment else quote(segment)
    path = page.format(raw) if "{}" in page else page
    return path + ("?" + urlencode(query) if query else "")


@RUNS
@given(page=st.sampled_from(PAGES + FIXED), segment=segments, query=queries)
def test_any_get_is_answered_below_500(site: Site, page: str, segment: str, query: dict) -> None:
    with httpx.Client() as client:
        request = client.build_request("GET", site.url)
        request.url = request.url.copy_with(raw_path=target(page, segment, query).encode())
        answer = client.send(request)
    assert answer.status_code < 500, (page, segment, query, answer.text[:300])


@RUNS
@given(
    page=st.sampled_from(("/subscribe", *PAGES[:4])),
    segment=segments,
    form=forms,
    multipart=st.booleans(),
)
def test_any_form_post_is_answered_below_500(
    site: Site, page: str, segment: str, form: dict[str, str], multipart: bool
) -> None:
    url = site.url + (page.format(quote(segment, safe="")) if "{}" in page else page)
    with httpx.Client() as client:
        if multipart:
            files = {name: (None, value.encode()) for name, value in form.items()}
            answer = client.post(url, files=files or {"x": (None, b"")})
        else:
            answer = client.post(url, data=form)
    assert answer.status_code < 500, (page, segment, form, answer.text[:300])


@RUNS
@given(body=st.binary(max_size=2000), kind=st.sampled_from([
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "multipart/form-data", "text/plain", "application/json"]))  # fmt: skip
def test_any_raw_body_is_answered_below_500(site: Site, body: bytes, kind: str) -> None:
    with httpx.Client() as client:
        for path in ("/subscribe", "/unsubscribe/abc", "/api/hooks/wordpress"):
            answer = client.post(site.url + path, content=body, headers={"Content-Type": kind})
            assert answer.status_code < 500, (path, body[:100], answer.text[:300])


def test_deep_json_to_the_admin_api_is_a_400(site: Site) -> None:
    body = b"[" * 30_000 + b"]" * 30_000  # 60 KB: under the API's body limit
    headers = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}
    answer = httpx.post(site.url + "/api/subscribers", content=body, headers=headers)
    assert 400 <= answer.status_code < 500

"""Serving feeds over a real socket: media types, validators, 304s, gzip, HEAD, 404s,
and a feed built once per change rather than per request."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.feeds.publish import build_feed
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.feeds_samples import NOW, sample_articles, settings_for, store_articles
from tests.servers import UvicornThread

PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
def served(sqlite_engine: Engine) -> Iterator[tuple[str, Runtime]]:
    store_articles(sqlite_engine, sample_articles())
    runtime = Runtime(settings_for(sqlite_engine, max_age=120))
    with UvicornThread(create_app(runtime)) as server:
        yield server.url, runtime
    runtime.close()


def expected_bytes(runtime: Runtime, name: str, fmt: str) -> bytes:
    spec = next(spec for spec in runtime.feed_cache.catalog if spec.name == name)
    settings = runtime.settings
    with runtime.engine.connect() as conn:
        return build_feed(conn, spec, settings.feeds, settings.site)[fmt].body


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ],
)
def test_each_format_with_its_media_type_and_validators(
    served: tuple[str, Runtime], fmt: str, media_type: str
) -> None:
    url, runtime = served
    response = httpx.get(f"{url}/feeds/all-tr.{fmt}", headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == expected_bytes(runtime, "all-tr", fmt)
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith(
        "W/"
    )
    assert response.headers["last-modified"] == "Sat, 28 Nov 2026 05:30:00 GMT"  # newest item
    assert response.headers["cache-control"] == "public, max-age=120"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers


def test_conditional_gets_answer_304_without_a_body(served: tuple[str, Runtime]) -> None:
    url, _ = served
    feed_url = f"{url}/feeds/all-tr.atom"
    first = httpx.get(feed_url, headers=PLAIN)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    cases = [
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": f'"other", {etag}'}, 304),
        ({"If-None-Match": '"stale"'}, 200),
        ({"If-Modified-Since": modified}, 304),
        ({"If-Modified-Since": "Fri, 27 Nov 2026 00:00:00 GMT"}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"stale"', "If-Modified-Since": modified}, 200),  # ETag wins
    ]
    for headers, status in cases:
        response = httpx.get(feed_url, headers={**PLAIN, **headers})
        assert response.status_code == status, headers
        if status == 304:
            assert response.content == b""
            assert response.headers["etag"] == etag
            assert response.headers["cache-control"] == "public, max-age=120"


def test_gzip_when_asked_with_its_own_etag(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    feed_url = f"{url}/feeds/all-tr.rss"
    with httpx.Client() as client:  # decodes gzip itself; check the wire headers
        zipped = client.get(feed_url, headers={"Accept-Encoding": "gzip"})
        plain = client.get(feed_url, headers=PLAIN)
        refused = client.get(feed_url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content == expected_bytes(runtime, "all-tr", "rss")
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert "content-encoding" not in refused.headers
    again = httpx.get(
        feed_url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert again.status_code == 304


def test_head_has_the_headers_of_get_and_no_body(served: tuple[str, Runtime]) -> None:
    url, _ = served
    get = httpx.get(f"{url}/feeds/all-tr.json", headers=PLAIN)
    head = httpx.head(f"{url}/feeds/all-tr.json", headers=PLAIN)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("etag", "last-modified", "content-type", "cache-control"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize("path", ["/feeds/nope.rss", "/feeds/all-tr.xml", "/feeds/all-tr"])
def test_unknown_feed_is_404_listing_the_feeds(served: tuple[str, Runtime], path: str) -> None:
    url, _ = served
    response = httpx.get(url + path)
    assert response.status_code == 404
    assert "/feeds/all-tr.atom" in response.text and "/feeds/one-cikan.json" in response.text


def test_opml_lists_every_feed(served: tuple[str, Runtime]) -> None:
    url, _ = served
    response = httpx.get(f"{url}/feeds.opml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/x-opml; charset=utf-8"
    for name in ("all-tr", "all-en", "defence-news", "one-cikan"):
        assert f'xmlUrl="https://feeds.example.org/feeds/{name}.rss"' in response.text
    again = httpx.get(f"{url}/feeds.opml", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_built_once_per_change_not_per_request(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    cache = runtime.feed_cache
    cache.recheck_seconds = 3600.0
    for _ in range(20):
        assert httpx.get(f"{url}/feeds/all-tr.rss").status_code == 200
    assert cache.builds == 1
    cache.recheck_seconds = 0.0  # every request checks the marker now; nothing changed
    before = httpx.get(f"{url}/feeds/all-tr.atom", headers=PLAIN)
    assert httpx.get(f"{url}/feeds/all-tr.atom").status_code == 200
    assert cache.builds == 1
    newer = sample_articles()[0]
    newer.guid, newer.url = "https://www.m5dergi.com/?p=999", "https://www.m5dergi.com/yeni/"
    newer.title = "Yepyeni haber"
    newer.published_at = newer.updated_at = NOW
    store_articles(runtime.engine, [newer])
    after = httpx.get(
        f"{url}/feeds/all-tr.atom", headers={**PLAIN, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert b"Yepyeni haber" in after.content
    assert after.headers["last-modified"] == "Sat, 28 Nov 2026 06:00:00 GMT"
    assert cache.builds == 2
    cache.recheck_seconds = 3600.0
    cached = cache.fresh("all-tr")
    assert cached is not None and gzip.decompress(cached["atom"].gzipped) == after.content

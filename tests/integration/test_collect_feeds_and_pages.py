"""`feed` and `html` sources over a real socket, stored on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import SourceSettings
from tests.integration.test_collect_wordpress import NOW, collect, source_row, stored
from tests.upstream import Resource, Upstream, settings_for, status

DATA = Path(__file__).resolve().parents[1] / "data" / "collect"


def payload(case: str) -> bytes:
    (found,) = (DATA / case).glob("input.*")
    return found.read_bytes()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def feed_source(upstream: Upstream, path: str = "/feed/") -> SourceSettings:
    return SourceSettings(name="rss", type="feed", url=upstream.base_url + path, every="10m")


@pytest.mark.parametrize(
    ("case", "count"), [("rss2-wordpress", 3), ("atom", 2), ("rss-malformed", 2)]
)
def test_feed_is_stored_once_and_polled_conditionally(
    engine: Engine, upstream: Upstream, case: str, count: int
) -> None:
    upstream.pages["/feed/"] = Resource(
        payload(case), "application/rss+xml", last_modified="Fri, 27 Nov 2026 06:00:00 GMT"
    )
    settings = settings_for(feed_source(upstream))
    (first,) = collect(engine, settings, NOW)
    assert (len(first.new), first.failed) == (count, False)

    upstream.log.clear()
    (second,) = collect(engine, settings, NOW, force=True)
    assert second.not_modified and (second.new, second.updated) == ([], [])
    (request,) = upstream.log
    assert request.headers["if-none-match"] == upstream.pages["/feed/"].etag
    assert request.headers["if-modified-since"] == "Fri, 27 Nov 2026 06:00:00 GMT"
    assert len(stored(engine)) == count


def test_windows_1254_feed_is_read_as_turkish(engine: Engine, upstream: Upstream) -> None:
    upstream.pages["/feed/"] = Resource(payload("rss-windows-1254"), "text/xml")
    collect(engine, settings_for(feed_source(upstream)), NOW)
    (article,) = stored(engine)
    assert article.title.startswith("“Çelik Kubbe” ile güçlü")
    assert article.summary == "İstanbul’da üretilen sistem – ilk kez gösteriliyor."


def test_an_unreadable_feed_fails_with_the_reason_and_keeps_the_rest(
    engine: Engine, upstream: Upstream
) -> None:
    upstream.pages["/feed/"] = Resource(payload("not-a-feed"), "text/html")
    upstream.pages["/good/"] = Resource(payload("atom"), "application/atom+xml")
    good = SourceSettings(name="good", type="feed", url=upstream.base_url + "/good/")
    reports = collect(engine, settings_for(feed_source(upstream), good), NOW)
    assert [r.failed for r in reports] == [True, False]
    assert "is not a readable feed" in reports[0].error
    assert source_row(engine, "rss").last_error == reports[0].error
    assert len(stored(engine)) == 2


def article_page(title: str, slug: str) -> bytes:
    page = payload("html-article").decode()
    page = page.replace("Taktik İHA ilk uçuşunu yaptı", title)
    return page.replace("/hava/taktik-iha-ilk-ucus/", f"/hava/{slug}/").encode()


def section_page(slugs: list[str]) -> bytes:
    items = "".join(f'<article><h2><a href="/hava/{s}/">{s}</a></h2></article>' for s in slugs)
    return f"<html><body><h1>Hava</h1>{items}</body></html>".encode()


def test_html_section_then_only_new_article_pages(engine: Engine, upstream: Upstream) -> None:
    for slug in ("bir", "iki", "uc"):
        upstream.pages[f"/hava/{slug}/"] = Resource(
            article_page(f"Haber {slug}", slug), "text/html"
        )
    upstream.pages["/hava/"] = Resource(section_page(["bir", "iki"]), "text/html; charset=utf-8")
    source = SourceSettings(name="site", type="html", url=upstream.base_url + "/hava/")
    settings = settings_for(source)

    (first,) = collect(engine, settings, NOW)
    assert len(first.new) == 2 and not first.item_errors
    assert sorted(a.title for a in stored(engine)) == ["Haber bir", "Haber iki"]
    assert {a.url for a in stored(engine)} == {
        "https://www.m5dergi.com/hava/bir/",
        "https://www.m5dergi.com/hava/iki/",
    }  # the page's canonical URL, tracking parameters removed

    upstream.log.clear()
    (second,) = collect(engine, settings, NOW, force=True)
    assert second.not_modified
    assert [(r.path, r.conditional, r.status) for r in upstream.log] == [("/hava/", True, 304)]


def test_html_article_page_failure_is_skipped_and_retried(
    engine: Engine, upstream: Upstream
) -> None:
    for slug in ("bir", "iki"):
        upstream.pages[f"/hava/{slug}/"] = Resource(
            article_page(f"Haber {slug}", slug), "text/html"
        )
    upstream.pages["/hava/"] = Resource(section_page(["bir", "iki"]), "text/html")
    upstream.fail("/hava/iki/", status(500))
    source = SourceSettings(name="site", type="html", url=upstream.base_url + "/hava/")
    settings = settings_for(source)

    (first,) = collect(engine, settings, NOW)
    assert len(first.new) == 1 and not first.failed
    assert "HTTP 500" in first.item_errors[0]

    upstream.log.clear()
    (second,) = collect(engine, settings, NOW, force=True)
    assert len(second.new) == 1
    # The section was fetched again (its validators were not kept) but only the
    # missing article page was asked for.
    assert [r.path for r in upstream.log] == ["/hava/", "/hava/iki/"]


def test_one_unreadable_file_is_skipped_by_name_and_the_rest_stored(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    good = '+++\ntitle = "İyi"\nurl = "https://m5.test/iyi/"\npublished = 2026-11-27T06:00:00Z\n'
    (folder / "01-iyi.md").write_text(good + 'language = "tr"\n+++\nMetin.\n', encoding="utf-8")
    (folder / "02-bozuk.md").write_text(
        good.replace("iyi/", "bozuk/") + "categories = 5\n+++\n<!-- yorum -->Metin.\n",
        encoding="utf-8",
    )
    source = SourceSettings(name="files", type="directory", url=str(folder), language="tr")
    (report,) = collect(engine, settings_for(source), NOW)
    assert not report.failed and len(report.new) == 1
    assert [e.split(":")[0] for e in report.item_errors] == ["02-bozuk.md"]
    assert [a.url for a in stored(engine)] == ["https://m5.test/iyi/"]

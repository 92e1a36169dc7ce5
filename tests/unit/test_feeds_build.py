"""The pure builders: golden files (bytes), determinism, and each feedgen trap.

Set M5_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then
read the diff before committing it.
"""

from __future__ import annotations

import locale
import os
import re
from pathlib import Path

import pytest

from m5syndicate.feeds.build import build_all, build_atom, build_json, build_opml, build_rss
from m5syndicate.feeds.catalog import FeedSpec, autodiscovery_links, feed_catalog, feed_meta
from m5syndicate.feeds.items import EPOCH, feed_items, feed_updated
from m5syndicate.models import Category
from tests.feeds_samples import FEEDS_DATA, SITE, feeds_settings, meta, sample_articles

CASES = {
    # a language feed, full content, advertising a WebSub hub
    "all-tr": meta(),
    # a category feed (no language), summaries only, no hub
    "defence-news-summaries": meta(
        FeedSpec("defence-news", "M5 Dergi: defence-news", None, "defence-news", "Category"),
        hub="",
        full_content=False,
    ),
}


def golden(case: str, name: str, actual: bytes) -> bytes:
    path = FEEDS_DATA / case / name
    if os.environ.get("M5_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    return path.read_bytes()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_golden_bytes(case: str, fmt: str) -> None:
    built = build_all(sample_articles(), CASES[case])[fmt]
    assert built == golden(case, f"expected.{fmt}", built)


def test_opml_golden_lists_every_feed() -> None:
    catalog = feed_catalog(feeds_settings(), SITE)
    built = build_opml(catalog, SITE.public_url, SITE.title, SITE.url)
    assert built == golden("opml", "expected.opml", built)
    assert built.count(b"<outline") == len(catalog) == 4


def test_same_articles_give_same_bytes_whatever_the_order_of_calls() -> None:
    first = {fmt: build(sample_articles(), meta()) for fmt, build in BUILDERS.items()}
    second = build_all(sample_articles(), meta())
    assert first == second


BUILDERS = {"rss": build_rss, "atom": build_atom, "json": build_json}


def test_feed_updated_is_the_newest_item_update_never_now() -> None:
    items = feed_items(sample_articles(), meta())
    assert feed_updated(items).isoformat() == "2026-11-28T05:30:00+00:00"
    assert feed_updated([]) == EPOCH
    atom = build_atom(sample_articles(), meta()).decode()
    assert "<updated>2026-11-28T05:30:00Z</updated>" in atom.split("<entry", 1)[0]
    rss = build_rss(sample_articles(), meta()).decode()
    assert "<lastBuildDate>Sat, 28 Nov 2026 05:30:00 +0000</lastBuildDate>" in rss
    empty = build_atom([], meta()).decode()
    assert "<updated>1970-01-01T00:00:00Z</updated>" in empty


def test_entries_keep_the_given_order() -> None:  # feedgen prepends unless told
    atom = build_atom(sample_articles(), meta()).decode()
    ids = re.findall(r"<entry[^>]*>\s*<id>([^<]+)</id>", atom)
    assert ids == [
        "https://www.m5dergi.com/?p=190150",
        "https://www.m5dergi.com/kara-sistemleri/obus-modernizasyonu/",
        "tag:www.m5dergi.com,2026:wp%20en/defence-news%2F17",
    ]


def test_atom_entry_links_keep_rel_type_and_no_cdata() -> None:  # feedgen issue 135
    atom = build_atom(sample_articles(), meta()).decode()
    assert (
        '<link href="https://www.m5dergi.com/deniz-sistemleri/korvet-seyir-testleri/" '
        'rel="alternate" type="text/html"/>' in atom
    )
    assert (
        '<link href="https://www.m5dergi.com/wp-content/uploads/2026/11/korvet.jpg" '
        'rel="enclosure" type="image/jpeg"/>' in atom
    )
    assert '<link href="https://hub.example.org/" rel="hub"/>' in atom
    assert "CDATA" not in atom
    assert '<content type="html">' in atom and '<summary type="html">' in atom


def test_dates_are_rfc822_plus0000_for_rss_and_rfc3339_z_for_atom() -> None:
    rss = build_rss(sample_articles(), meta()).decode()
    assert re.findall(r"<pubDate>([^<]+)</pubDate>", rss) == [
        "Sat, 28 Nov 2026 05:00:00 +0000",
        "Fri, 27 Nov 2026 10:15:00 +0000",
        "Thu, 26 Nov 2026 08:00:00 +0000",
    ]
    atom = build_atom(sample_articles(), meta()).decode()
    assert "+00:00" not in atom
    assert "<published>2026-11-26T08:00:00Z</published>" in atom


def test_rss_dates_never_touch_the_process_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    # feedgen's formatRFC2822 calls setlocale(LC_ALL) twice per date: not thread-safe.
    def refuse(*args: object) -> str:
        raise AssertionError("setlocale was called while building a feed")

    monkeypatch.setattr(locale, "setlocale", refuse)
    for build in BUILDERS.values():
        assert build(sample_articles(), meta())


def test_permalink_only_when_the_guid_is_the_url() -> None:
    rss = build_rss(sample_articles(), meta()).decode()
    assert '<guid isPermaLink="false">https://www.m5dergi.com/?p=190150</guid>' in rss
    assert (
        '<guid isPermaLink="true">https://www.m5dergi.com/kara-sistemleri/obus-modernizasyonu/'
        "</guid>" in rss
    )


def test_rss_has_content_creator_media_enclosure_categories_and_self() -> None:
    rss = build_rss(sample_articles(), meta()).decode()
    assert "<content:encoded>&lt;p&gt;Milli korvet" in rss
    assert "<dc:creator>M5 Dergi</dc:creator>" in rss
    assert '<enclosure url="https://cdn.m5dergi.com/obus.PNG" length="0" type="image/png"/>' in rss
    assert '<media:content url="https://cdn.m5dergi.com/obus.PNG" type="image/png"' in rss
    assert "<category>Öne Çıkan</category>" in rss
    assert (
        '<atom:link href="https://feeds.example.org/feeds/all-tr.rss" rel="self" '
        'type="application/rss+xml"/>' in rss
    )
    assert "<link>https://www.m5dergi.com</link>" in rss  # the channel's, not the self link


def test_summaries_only_leaves_out_the_article_body() -> None:
    summaries = CASES["defence-news-summaries"]
    for build in BUILDERS.values():
        assert b"Milli korvet, <strong>" not in build(sample_articles(), summaries)
        assert b"Milli korvet, &lt;strong&gt;" not in build(sample_articles(), summaries)


def test_autodiscovery_links_for_html_pages() -> None:
    catalog = feed_catalog(feeds_settings(), SITE)
    links = autodiscovery_links(catalog, "https://feeds.example.org/", language="en")
    assert links[0] == {
        "rel": "alternate",
        "type": "application/rss+xml",
        "title": "M5 Dergi (English) (RSS)",
        "href": "https://feeds.example.org/feeds/all-en.rss",
    }
    assert {link["href"].rsplit("/", 1)[1] for link in links} == {
        f"{name}.{fmt}"
        for name in ("all-en", "defence-news", "one-cikan")
        for fmt in ("rss", "atom", "json")
    }
    assert len(autodiscovery_links(catalog, "https://feeds.example.org")) == 12


def test_golden_folder_is_complete() -> None:
    expected = {f"{case}/expected.{fmt}" for case in CASES for fmt in ("rss", "atom", "json")}
    found = {str(p.relative_to(FEEDS_DATA)) for p in Path(FEEDS_DATA).glob("*/expected.*")}
    assert expected | {"opml/expected.opml"} == found


def test_category_feeds_speak_their_categorys_language_and_declare_it() -> None:
    catalog = {spec.name: spec for spec in feed_catalog(feeds_settings(), SITE)}
    featured, defence = catalog["one-cikan"], catalog["defence-news"]
    assert (featured.title, featured.declared_language) == ("M5 Dergi: Öne Çıkan", "tr")
    assert featured.description == "M5 Dergi: Öne Çıkan kategorisindeki haberler"
    assert (defence.title, defence.declared_language) == ("M5 Dergi: Defence News", "en")
    assert defence.description == "M5 Dergi: articles in Defence News"
    assert featured.language is None  # it still holds its articles in every language
    built = build_all([], feed_meta(defence, feeds_settings(), SITE))
    assert b"<language>en</language>" in built["rss"]
    assert b'xml:lang="en"' in built["atom"] and b'"language": "en"' in built["json"]


def test_item_category_labels_use_the_configured_name_in_the_items_language() -> None:
    english_feed = feed_meta(
        FeedSpec("all-en", "M5 Dergi (English)", "en", None), feeds_settings(), SITE
    )
    article = sample_articles()[0]
    article.language = "en"
    article.categories = [Category("one-cikan", "Öne Çıkan"), Category("hava", "Hava")]
    (item,) = feed_items([article], english_feed)
    assert [c.label for c in item.categories] == ["Featured", "Hava"]

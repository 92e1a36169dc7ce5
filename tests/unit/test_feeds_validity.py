"""Every built feed is valid and round-trips: feedparser (bozo 0), the RFC 4287 RELAX NG
schema for Atom, a JSON Schema written from the JSON Feed 1.1 spec; and hostile articles
still give well-formed, safe feeds.

feedparser 6.0.14 (the newest release) reads RSS and Atom but not JSON Feed, so JSON
Feed is checked by its schema and read back with ``json``, as a JSON Feed reader does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import feedparser
import jsonschema
import pytest
from lxml import etree

from m5syndicate.feeds.build import build_all
from m5syndicate.feeds.catalog import FORMATS
from m5syndicate.feeds.items import feed_items
from tests.conftest import REPO
from tests.feeds_samples import MB, hostile_articles, meta, sample_articles

SCHEMAS = REPO / "tests" / "schemas"
ATOM = "{http://www.w3.org/2005/Atom}"
ARTICLE_SETS = {"samples": sample_articles, "hostile": hostile_articles}
METAS = {"full": meta(), "summaries": meta(hub="", full_content=False)}


@cache
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))


@cache
def json_feed_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def built(articles: str, which: str) -> dict[str, bytes]:
    return build_all(ARTICLE_SETS[articles](), METAS[which])


CASES = [(a, m) for a in ARTICLE_SETS for m in METAS]


@pytest.mark.parametrize(("articles", "which"), CASES)
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_every_feed_without_complaint(articles: str, which: str, fmt: str) -> None:
    parsed = parse(built(articles, which)[fmt], fmt)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(ARTICLE_SETS[articles]())


@pytest.mark.parametrize(("articles", "which"), CASES)
def test_atom_validates_against_rfc4287_relax_ng(articles: str, which: str) -> None:
    document = etree.fromstring(built(articles, which)["atom"])
    schema = atom_schema()
    assert schema.validate(document), schema.error_log
    # RFC 4287's two Schematron rules, which RELAX NG cannot say:
    feed_has_author = document.find(f"{ATOM}author") is not None
    for entry in document.iter(f"{ATOM}entry"):
        rels = [link.get("rel", "alternate") for link in entry.iter(f"{ATOM}link")]
        assert "alternate" in rels or entry.find(f"{ATOM}content") is not None
        assert feed_has_author or entry.find(f"{ATOM}author") is not None
        alternate_types = [
            link.get("type")
            for link in entry.iter(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert len(alternate_types) == len(set(alternate_types))  # one alternate per type


def test_the_atom_schema_refuses_what_rfc4287_refuses() -> None:
    good = built("samples", "full")["atom"]
    assert atom_schema().validate(etree.fromstring(good))
    for broken in (
        good.replace(b"<id>", b"<ident>", 1).replace(b"</id>", b"</ident>", 1),
        good.replace(b"2026-11-28T05:30:00Z", b"28 Nov 2026", 1),
        good.replace(b'type="html"', b'type="CDATA"', 1),
    ):
        assert not atom_schema().validate(etree.fromstring(broken))


@pytest.mark.parametrize(("articles", "which"), CASES)
def test_json_feed_validates_against_the_1_1_schema(articles: str, which: str) -> None:
    document = json.loads(built(articles, which)["json"])
    errors = [error.message for error in json_feed_validator().iter_errors(document)]
    assert errors == []


def test_the_json_schema_refuses_an_item_without_content() -> None:
    document = json.loads(built("samples", "full")["json"])
    del document["items"][0]["content_html"]
    assert not json_feed_validator().is_valid(document)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_ids_dates_links_and_images_survive_a_reader(fmt: str) -> None:
    articles = sample_articles()
    expected = feed_items(articles, meta())
    parsed = parse(built("samples", "full")[fmt], fmt)
    assert parsed.bozo == 0
    for entry, item in zip(parsed.entries, expected, strict=True):
        assert entry.id == item.id
        assert entry.link == item.url
        assert parsed_time(entry.published_parsed) == item.published
        if fmt != "rss":  # RSS has no per-item updated time
            assert parsed_time(entry.updated_parsed) == item.updated
        assert image_of(entry, fmt) == item.image_url
        assert entry.title == item.title
    assert parsed.feed.title == "M5 Dergi (Türkçe)"


def parse(feed: bytes, fmt: str) -> Any:
    """As a reader gets it: with the media type we serve. JSON Feed is mapped to the
    names feedparser uses for RSS and Atom, so one round-trip test reads all three."""
    if fmt == "json":
        return json_as_feedparser(json.loads(feed))
    headers = {"content-type": f"{FORMATS[fmt]}; charset=utf-8"}
    return feedparser.parse(feed, response_headers=headers)


def json_as_feedparser(document: dict[str, Any]) -> Any:
    def when(text: str) -> tuple[int, ...]:
        return datetime.fromisoformat(text).timetuple()[:6]

    entries = [
        feedparser.FeedParserDict(
            id=item["id"],
            link=item["url"],
            title=item["title"],
            image=item.get("image", ""),
            published_parsed=when(item["date_published"]),
            updated_parsed=when(item["date_modified"]),
        )
        for item in document["items"]
    ]
    feed = feedparser.FeedParserDict(title=document["title"])
    return feedparser.FeedParserDict(bozo=0, entries=entries, feed=feed)


def parsed_time(value: Any) -> datetime:
    return datetime(*value[:6], tzinfo=UTC)


def image_of(entry: Any, fmt: str) -> str:
    if fmt == "json":
        return str(entry.image)
    enclosures = [link.href for link in entry.get("links", []) if link.rel == "enclosure"]
    return enclosures[0] if enclosures else ""


def all_text(feed: bytes, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(json.loads(feed), ensure_ascii=False)
    return " ".join(etree.fromstring(feed).itertext())  # strict parse: well-formed or raise


def html_payloads(feed: bytes, fmt: str) -> list[str]:
    """The fields a reader renders as HTML (titles are text: escaped, never markup)."""
    if fmt == "json":
        items = json.loads(feed)["items"]
        return [item.get("content_html", "") for item in items]
    root = etree.fromstring(feed)
    if fmt == "rss":
        paths = ["//item/description", "//item/{http://purl.org/rss/1.0/modules/content/}encoded"]
    else:
        paths = [f"//{ATOM}entry/{ATOM}content", f"//{ATOM}entry/{ATOM}summary"]
    return [element.text or "" for path in paths for element in root.iterfind("." + path)]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_hostile_articles_give_safe_feeds(fmt: str) -> None:
    feed = built("hostile", "full")[fmt]
    payloads = html_payloads(feed, fmt)
    assert payloads
    for html in payloads:
        for danger in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style"):
            assert danger not in html.lower(), danger
    text = all_text(feed, fmt)
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)
    assert "\ufffe" not in text
    assert "صاروخ مضاد للسفن 🚀 עברית" in text and "🇹🇷" in text
    assert text.count("Çok uzun metin.") == MB // 16  # 1 MB of content, all there


def test_hostile_titles_stay_text_not_markup() -> None:
    parsed = parse(built("hostile", "full")["atom"], "atom")
    assert parsed.entries[0].title == "<script>alert('t')</script> Başlık"
    assert parsed.entries[1].title == "https://www.m5dergi.com/tarihsiz/"  # empty: its URL


def test_undated_and_badly_dated_articles_get_stable_dates() -> None:
    items = feed_items(hostile_articles(), meta())
    undated, rtl = items[1], items[3]
    assert (undated.published, undated.updated) == (None, None)
    assert undated.id == "https://www.m5dergi.com/tarihsiz/" and undated.permalink
    assert undated.language == ""  # tr_TR is no language tag; xml:lang would be invalid
    assert rtl.published == rtl.updated == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert items[0].url == "https://www.m5dergi.com" and items[0].image_url == ""
    atom = built("hostile", "full")["atom"].decode()
    assert "<updated>1970-01-01T00:00:00Z</updated>" in atom  # never "now"


def test_a_second_build_is_byte_identical() -> None:
    for articles in (sample_articles, hostile_articles):
        assert build_all(articles(), meta()) == build_all(articles(), meta())

"""Feed terms: categories and tags kept apart (issue 11, item 3, the RSS side)."""

from __future__ import annotations

from datetime import UTC, datetime

from m5syndicate.collect import feed

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def rss(terms: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title><link>https://m5.test/</link>
<item><title>Bir</title><link>https://m5.test/bir/</link><guid>https://m5.test/?p=1</guid>
{terms}</item></channel></rss>""".encode()


def slugs(body: bytes, known: set[str] | None = None) -> tuple[list[str], list[str]]:
    (article,) = feed.parse_feed(body, "https://m5.test/feed/", "", NOW, known).articles
    return [c.slug for c in article.categories], [t.slug for t in article.tags]


def test_terms_marked_with_their_taxonomy_go_where_they_say() -> None:
    body = rss(
        '<category domain="category">Deniz Sistemleri</category>'
        '<category domain="post_tag">korvet</category>'
        '<category domain="https://m5.test/etiket/">tersane</category>'
    )
    assert slugs(body) == (["deniz-sistemleri"], ["korvet", "tersane"])


def test_unmarked_wordpress_terms_are_categories_only_when_the_source_knows_them() -> None:
    body = rss("<category>Öne Çıkan</category><category>korvet</category>")
    assert slugs(body) == (["one-cikan", "korvet"], [])  # nothing known: as the feed says
    assert slugs(body, {"one-cikan"}) == (["one-cikan"], ["korvet"])


def test_an_entry_that_cannot_be_read_is_skipped_by_its_link() -> None:
    body = rss("").replace(b"<guid>https://m5.test/?p=1</guid>", b"")
    body = body.replace(b"</channel>", b"<item><title>Yok</title></item></channel>")
    parsed = feed.parse_feed(body, "https://m5.test/feed/", "", NOW)
    assert [a.url for a in parsed.articles] == ["https://m5.test/bir/"]
    assert parsed.skipped == ["entry #2: it has neither an id nor a link; skipped"]

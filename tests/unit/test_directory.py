"""The directory source and the shared cleaning rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from m5syndicate.collect import clean, directory
from m5syndicate.errors import ParseError

DOC = """+++
guid = "https://m5.test/?p=1"
title = "\\"Çelik Kubbe\\" & yeni radar"
url = "https://m5.test/hava/celik-kubbe/"
published = 2026-11-27T06:10:00Z
language = "tr"
categories = ["Hava Sistemleri", "Öne Çıkan"]
image = "/wp-content/uploads/radar.jpg"
+++
İlk paragraf, [bağlantı](/hava/) ile.

Abone Ol

<script>alert(1)</script>

İkinci paragraf.
"""


def test_markdown_document_is_parsed_and_cleaned() -> None:
    parsed = directory.parse_document("01.md", DOC.encode())
    article = clean.finish(parsed, parsed.url, ["Abone Ol"])
    assert article.title == '"Çelik Kubbe" & yeni radar'
    assert article.published_at == datetime(2026, 11, 27, 6, 10, tzinfo=UTC)
    assert article.updated_at == article.published_at
    assert [c.slug for c in article.categories] == ["hava-sistemleri", "one-cikan"]
    assert "Abone Ol" not in article.content_html
    assert "<script" not in article.content_html and "alert" not in article.content_html
    assert 'href="https://m5.test/hava/"' in article.content_html
    assert article.image_url == "https://m5.test/wp-content/uploads/radar.jpg"
    assert article.summary.startswith("İlk paragraf, bağlantı ile.")
    assert len(article.content_hash) == 64


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no front matter", "start the file with a +++"),
        (b"+++\ntitle = \n+++\n", "not valid TOML"),
        (b'+++\ntitle = "x"\n+++\n', "front matter lacks url, published"),
        (
            '+++\ntitle="x"\nurl="u"\nlanguage="tr"\npublished="dün"\n+++\n'.encode(),
            "published must be a date-time",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_files_are_named_with_the_fix(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)) as caught:
        directory.parse_document("bad.md", body)
    assert "bad.md" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Öne Çıkan", "one-cikan"),
        ("Defence News", "defence-news"),
        ("İstanbul Şişli Güç", "istanbul-sisli-guc"),
        ("Kara Sistemleri", "kara-sistemleri"),
    ],
)
def test_turkish_slugs(name: str, slug: str) -> None:
    assert clean.slugify(name) == slug


def test_summary_is_cut_at_a_word_boundary() -> None:
    text = "<p>" + "kelime " * 100 + "</p>"
    summary = clean.summarize(text, limit=50)
    assert summary.endswith("…") and len(summary) <= 51
    assert summary[:-1].split(" ")[-1] == "kelime"


def test_sanitizer_drops_dangerous_urls_and_handlers() -> None:
    dirty = (
        '<p onclick="x()">a <a href="javascript:alert(1)">j</a>'
        '<img src="data:image/png;base64,AAAA" onerror="x()"><svg><script>1</script></svg>'
        "<style>p{}</style></p>"
    )
    cleaned = clean.sanitize(dirty, "https://m5.test/")
    for bad in ("onclick", "javascript:", "data:", "onerror", "<svg", "<script", "<style"):
        assert bad not in cleaned

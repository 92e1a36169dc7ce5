"""An article's language: structure first, then py3langid on the text (issue 11, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from m5syndicate.collect import language
from m5syndicate.collect.language import LanguageRules
from m5syndicate.config import load_settings
from m5syndicate.errors import ConfigError
from m5syndicate.models import Article, Category

DATA = Path(__file__).resolve().parents[1] / "data" / "language"
DEFENCE_NEWS = Category("defence-news", "Defence News")
RULES = LanguageRules(categories={"defence-news": "en"}, site="tr")


def samples() -> list[tuple[str, str]]:
    """Short news texts written for this test: titles and first sentences, one a line."""
    return [
        (lang, line.strip())
        for lang in ("tr", "en")
        for line in (DATA / f"news-{lang}.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_the_sample_is_large_enough() -> None:
    found = samples()
    assert sum(lang == "tr" for lang, _ in found) >= 60
    assert sum(lang == "en" for lang, _ in found) >= 60


def test_short_turkish_and_english_news_texts_are_told_apart() -> None:
    found = samples()
    wrong = [(lang, text) for lang, text in found if language.detect(text) != lang]
    assert len(wrong) <= len(found) // 100, wrong  # >= 99% right


def article(
    text: str = "", own: str = "", said_by: str = "", categories: list[Category] | None = None
) -> Article:
    when = datetime(2026, 11, 28, tzinfo=UTC)
    return Article(
        guid="g",
        url="https://m5.test/a/",
        title=text,
        content_html="",
        summary="",
        language=own,
        published_at=when,
        updated_at=when,
        categories=categories or [],
        language_source=said_by,
    )


ENGLISH = "Armoured vehicle export deal signed"
TURKISH = "Korvet seyir testlerini tamamladı"


@pytest.mark.parametrize(
    ("item", "rules", "feed", "expected"),
    [
        # The post's own field beats everything, even its category.
        (article(TURKISH, "tr-TR", categories=[DEFENCE_NEWS]), RULES, "en", ("tr", "payload")),
        # The short English Defence News post of issue 11, on a source configured tr.
        (
            article("Radar delivered", categories=[DEFENCE_NEWS]),
            LanguageRules(source="tr", categories={"defence-news": "en"}),
            "tr",
            ("en", "category"),
        ),
        (article(ENGLISH), LanguageRules(source="tr"), "en", ("tr", "source")),
        (article(ENGLISH, "tr", "document"), RULES, "en", ("tr", "document")),
        (article(ENGLISH), RULES, "tr", ("tr", "feed")),
        (article(ENGLISH), RULES, "", ("en", "detected")),
        (article(TURKISH), LanguageRules(site="en"), "", ("tr", "detected")),
        (article("2026 — 12:00"), LanguageRules(site="en"), "", ("en", "site")),
        # A language we do not publish is no answer: the next rule decides.
        (article(TURKISH, "de"), RULES, "fr", ("tr", "detected")),
    ],
)
def test_language_is_decided_from_structure_first(
    item: Article, rules: LanguageRules, feed: str, expected: tuple[str, str]
) -> None:
    assert language.decide(item, rules, feed) == expected


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        ({"lang": "en"}, "en"),  # Polylang
        ({"pll_lang": "tr"}, "tr"),
        ({"wpml_current_locale": "en_US"}, "en"),  # WPML
        ({"language_code": "tr"}, "tr"),
        ({"wpml_language": {"code": "en"}}, "en"),
        ({"locale": "tr_TR"}, "tr"),
        ({"lang": "de", "wpml_current_locale": "en_GB"}, "en"),
        ({"lang": ""}, ""),
        ({}, ""),
    ],
)
def test_payload_language_reads_polylang_and_wpml(post: dict[str, object], expected: str) -> None:
    assert language.payload_language(post) == expected


def test_category_languages_are_read_and_checked() -> None:
    assert language.category_languages(["defence-news=en", " one-cikan = tr"]) == {
        "defence-news": "en",
        "one-cikan": "tr",
    }
    with pytest.raises(ValueError, match="defence-news"):
        language.category_languages(["defence-news"])


def test_a_bad_category_language_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[collect\] category_languages: 'news=de'"):
        load_settings(path=None, env={}, overrides={"collect": {"category_languages": ["news=de"]}})

"""Golden files: each parser, then the shared cleaning, on a recorded-style payload.

tests/data/collect/<case>/ holds ``case.json`` (which parser, base URL, content type,
default language), ``input.*`` (the payload as fetched) and ``expected.json`` (the
articles as stored, or the error, or the links of a section page). After a deliberate
change, regenerate with ``M5_UPDATE_GOLDEN=1 pytest tests/unit/test_collect_golden.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from m5syndicate.collect import clean, html
from m5syndicate.collect.language import LanguageRules
from m5syndicate.collect.parsed import Parsed
from m5syndicate.collect.types import SOURCE_TYPES
from m5syndicate.config import SOURCE_TYPES as SOURCE_TYPE_CHOICES
from m5syndicate.config import CollectSettings
from m5syndicate.errors import ParseError
from m5syndicate.models import Article

DATA = Path(__file__).resolve().parents[1] / "data" / "collect"
CASES = sorted(path.name for path in DATA.iterdir() if (path / "case.json").exists())
COLLECTED_AT = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # for items without a date
BOILERPLATE = CollectSettings().boilerplate
CATEGORY_LANGUAGES = {"defence-news": "en"}  # the shipped [collect] category_languages


def as_json(article: Article) -> dict[str, Any]:
    return {
        "guid": article.guid,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "language": article.language,
        "language_source": article.language_source,
        "published_at": article.published_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "categories": [[c.slug, c.name] for c in article.categories],
        "tags": [[c.slug, c.name] for c in article.tags],
        "author": article.author,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "content_html": article.content_html,
    }


def parse(case: dict[str, Any], name: str, body: bytes) -> tuple[Parsed, str]:
    """The type's parser output, and the base URL the reader cleans it against (a
    directory's files are named, not addressed; WordPress posts carry their own links)."""
    kind = case["parser"].removesuffix("-article")  # "html-article" is the html type
    base = name if kind == "directory" else case["base_url"]
    parsed = SOURCE_TYPES[kind].parse(body, base, case.get("content_type", ""), COLLECTED_AT)
    return parsed, "" if kind in ("wordpress", "directory") else base


def run_case(folder: Path) -> dict[str, Any]:
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    (source,) = folder.glob("input.*")
    body = source.read_bytes()
    if case["parser"] == "html-section":
        return {"links": html.find_article_links(body, case["base_url"], case["content_type"])}
    try:
        parsed, base = parse(case, source.name, body)
    except ParseError as exc:
        return {"error": str(exc)}
    rules = LanguageRules(source=case.get("language", ""), categories=CATEGORY_LANGUAGES)
    feed_language = parsed.default_language
    articles = [
        clean.finish(a, base or a.url, BOILERPLATE, rules, feed_language) for a in parsed.articles
    ]
    return {"articles": [as_json(a) for a in articles], "skipped": parsed.skipped}


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    folder = DATA / name
    actual = run_case(folder)
    expected_path = folder / "expected.json"
    if os.environ.get("M5_UPDATE_GOLDEN") or not expected_path.exists():
        text = json.dumps(actual, ensure_ascii=False, indent=1) + "\n"
        expected_path.write_text(text, encoding="utf-8")
        if not os.environ.get("M5_UPDATE_GOLDEN"):
            pytest.fail(f"{expected_path} was missing and has been written; review it")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


def test_every_configurable_type_has_a_reader_and_a_parser() -> None:
    assert set(SOURCE_TYPES) == set(SOURCE_TYPE_CHOICES)

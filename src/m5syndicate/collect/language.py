"""An article's language: from structure first, then from its text.

In order, the first that says one of the configured languages wins, and the article
records which (``Article.language_source``):

1. ``payload``: the item itself (WordPress Polylang/WPML fields via ``payload_language``,
   a feed entry's ``xml:lang``, a file's front matter);
2. ``category``: a category with a language (``[collect] category_languages``, e.g.
   M5 Dergi's "defence-news" is English whatever the site's language);
3. ``source``: the source's ``language`` setting;
4. ``document``: the article page's ``<html lang>``, ``og:locale`` or JSON-LD;
5. ``feed``: the feed's ``<language>``;
6. ``detected``: language identification of the title and first lines (py3langid,
   restricted to the configured languages; chosen by measurement, see BENCHMARKS.md);
7. ``site``: ``[site] language``, when there is no text to read.

Pure, except that the identifier's model is loaded once, on first use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from m5syndicate.config import LANGUAGES
from m5syndicate.models import Article

WORDS = re.compile(r"[^\W\d_]{2,}")
DETECT_CHARS = 600  # the title and first lines say it; more only costs time


@dataclass(frozen=True)
class LanguageRules:
    """What a source knows about its articles' languages, from the settings."""

    languages: tuple[str, ...] = LANGUAGES
    source: str = ""  # the source's `language` setting
    categories: Mapping[str, str] = field(default_factory=dict)  # slug -> language
    site: str = "tr"


def short_language(tag: str) -> str:
    """'tr-TR', 'tr_TR', 'TR' -> 'tr'; '' stays ''."""
    return tag.strip().lower().replace("_", "-").split("-")[0][:8]


def category_languages(entries: Iterable[str]) -> dict[str, str]:
    """``["defence-news=en"]`` -> ``{"defence-news": "en"}``.

    Raises ValueError naming the entry that is not ``slug=language``."""
    found = {}
    for entry in entries:
        slug, sep, lang = entry.partition("=")
        if not sep or not slug.strip() or short_language(lang) not in LANGUAGES:
            raise ValueError(
                f'{entry!r} is not slug=language; write it like "defence-news=en" '
                f"with a language of {', '.join(LANGUAGES)}"
            )
        found[slug.strip()] = short_language(lang)
    return found


def payload_language(post: Mapping[str, Any]) -> str:
    """The language a WordPress multilingual plugin put in a REST post, or ''.

    Polylang (with its REST add-ons) writes ``lang`` ("en") or ``pll_lang``; WPML writes
    ``wpml_current_locale`` ("en_US") or ``language_code``, or ``wpml_language`` in
    some versions; some sites expose ``locale`` or ``language``."""
    for key in ("lang", "pll_lang", "wpml_current_locale", "language_code", "wpml_language"):
        value = post.get(key)
        if isinstance(value, Mapping):  # {"code": "en", ...} in some plugin versions
            value = value.get("code") or value.get("slug") or value.get("locale")
        if isinstance(value, str) and short_language(value) in LANGUAGES:
            return short_language(value)
    for key in ("locale", "language"):
        value = post.get(key)
        if isinstance(value, str) and short_language(value) in LANGUAGES:
            return short_language(value)
    return ""


def decide(article: Article, rules: LanguageRules, feed_language: str = "") -> tuple[str, str]:
    """(language, how it was decided) for an article parsed from any source."""
    own = short_language(article.language)
    said_by = article.language_source or "payload"
    if own in rules.languages and said_by == "payload":
        return own, "payload"
    for category in article.categories:
        lang = rules.categories.get(category.slug, "")
        if lang in rules.languages:
            return lang, "category"
    if short_language(rules.source) in rules.languages:
        return short_language(rules.source), "source"
    if own in rules.languages:
        return own, said_by  # "document"
    if short_language(feed_language) in rules.languages:
        return short_language(feed_language), "feed"
    detected = detect(f"{article.title}. {article.summary}", rules.languages)
    if detected:
        return detected, "detected"
    return rules.site, "site"


def detect(text: str, languages: Iterable[str] = LANGUAGES) -> str:
    """The language of ``text`` among ``languages``; '' when it has no words to read."""
    sample = text[:DETECT_CHARS]
    if not WORDS.search(sample):
        return ""
    allowed = tuple(sorted(set(languages)))
    if len(allowed) == 1:
        return allowed[0]
    return str(identifier(allowed).classify(sample)[0])


@lru_cache(maxsize=4)
def identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model (loaded once per language set: about 0.7 s)."""
    model = LanguageIdentifier.from_modelpath(Path(MODEL_DIR) / MODEL_FILE)
    model.set_languages(list(languages))
    return model

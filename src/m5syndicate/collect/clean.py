"""Cleaning shared by every source type: sanitize, make URLs absolute, drop theme
boilerplate, summarise, hash. Pure functions: text in, text out."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import urljoin

import nh3

from m5syndicate.models import Article, Category

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
URL_SCHEMES = {"http", "https", "mailto"}
TURKISH_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâîû", "cgiosuCGIOSUaiu")


def sanitize(fragment: str, base_url: str) -> str:
    """Allowlist HTML; relative links and images made absolute against ``base_url``."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=lambda tag, attr, value: absolute(tag, attr, value, base_url),
    )


def absolute(tag: str, attribute: str, value: str, base_url: str) -> str:
    if attribute in ("href", "src", "cite") and base_url:
        return urljoin(base_url, value.strip())
    return value


def drop_boilerplate(fragment: str, patterns: Sequence[str]) -> str:
    """Remove block elements whose whole text is a theme phrase ("Abone Ol"...)."""
    for phrase in patterns:
        escaped = re.escape(phrase)
        fragment = re.sub(
            rf"<(p|div|span|h[2-6]|li)[^>]*>\s*{escaped}\s*</\1>", "", fragment, flags=re.I
        )
    return fragment


def plain_text(fragment: str) -> str:
    text = re.sub(r"<(br|/p|/h[2-6]|/li|/blockquote)[^>]*>", " ", fragment, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def summarize(fragment: str, limit: int = 280) -> str:
    """Plain text cut at a word boundary, with an ellipsis when cut."""
    text = plain_text(fragment)
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:.-–—")
    return cut + "…"


def slugify(name: str) -> str:
    """'Öne Çıkan' -> 'one-cikan', as WordPress makes Turkish slugs."""
    ascii_name = unicodedata.normalize("NFKD", name.translate(TURKISH_ASCII))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def category_from_name(name: str, slug: str = "") -> Category:
    return Category(slug=slug or slugify(name), name=html.unescape(name).strip())


def content_hash(title: str, content_html: str) -> str:
    return hashlib.sha256(f"{title}\x00{content_html}".encode()).hexdigest()


def finish(article: Article, base_url: str, boilerplate: Sequence[str]) -> Article:
    """Sanitize an article parsed from any source and fill its derived fields."""
    article.title = plain_text(article.title)
    article.content_html = sanitize(drop_boilerplate(article.content_html, boilerplate), base_url)
    article.summary = article.summary or summarize(article.content_html)
    if article.image_url:
        article.image_url = urljoin(base_url, article.image_url)
    article.content_hash = content_hash(article.title, article.content_html)
    return article

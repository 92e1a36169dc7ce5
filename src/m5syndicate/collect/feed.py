"""The `feed` source: RSS 0.9x/1.0/2.0 and Atom -> Articles (feedparser).

Pure. Full content (``content:encoded``, Atom ``content``) is preferred over summaries.
feedparser's own sanitizer and URL resolver are off: ``clean.finish`` does both with the
same rules as every other source (and far faster). A malformed feed whose entries could
still be read is kept; one that yields nothing is a ParseError naming the problem.
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from m5syndicate.collect.clean import slugify
from m5syndicate.collect.encoding import xml_as_utf8
from m5syndicate.collect.parsed import Parsed
from m5syndicate.errors import ParseError
from m5syndicate.models import Article, Category

HTML_TYPES = ("text/html", "application/xhtml+xml")


def parse_feed(body: bytes, base_url: str, content_type: str, fallback_time: datetime) -> Parsed:
    """Entries without any date get ``fallback_time`` (the time they were collected)."""
    document = feedparser.parse(
        xml_as_utf8(body, content_type),
        response_headers={"content-location": base_url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not document.entries and (document.bozo or not document.version):
        reason = document.get("bozo_exception") or "no RSS or Atom root element"
        raise ParseError(
            f"collect: {base_url} is not a readable feed ({reason}); check the source's "
            "url, or that the site's feed is valid (https://validator.w3.org/feed/)"
        )
    parsed = Parsed(default_language=short_language(document.feed.get("language", "")))
    for index, entry in enumerate(document.entries):
        try:
            parsed.articles.append(parse_entry(entry, fallback_time))
        except (KeyError, TypeError, ValueError) as exc:
            parsed.skipped.append(f"{base_url}: entry #{index + 1}: {exc}; skipped")
    return parsed


def parse_entry(entry: Any, fallback_time: datetime) -> Article:
    link = entry.get("link", "")
    guid = entry.get("id") or link
    if not guid:
        raise ValueError("it has neither an id nor a link")
    content, summary = body_and_summary(entry)
    # dict.get: feedparser's own get() maps updated to published with a warning
    updated = struct_time_utc(dict.get(entry, "updated_parsed"))
    published = struct_time_utc(dict.get(entry, "published_parsed")) or updated
    published = published or fallback_time
    image_url, image_alt = entry_image(entry)
    return Article(
        guid=guid,
        url=link or guid,
        title=as_html(entry.get("title_detail") or {"value": entry.get("title", "")}),
        content_html=content,
        summary=summary,
        language=short_language(entry_language(entry)),
        published_at=published,
        updated_at=max(updated or published, published),
        categories=entry_categories(entry),
        author=entry.get("author", ""),
        image_url=image_url,
        image_alt=image_alt,
    )


def body_and_summary(entry: Any) -> tuple[str, str]:
    contents = entry.get("content") or []
    rich = [c for c in contents if c.get("type") in HTML_TYPES] or contents
    summary = as_html(entry.get("summary_detail") or {"value": entry.get("summary", "")})
    if rich:
        return as_paragraphs(rich[0]), summary
    return as_paragraphs(entry.get("summary_detail") or {"value": entry.get("summary", "")}), ""


def as_html(detail: Any) -> str:
    """A feedparser text construct as HTML (plain text escaped)."""
    value = str(detail.get("value", ""))
    if detail.get("type", "text/html") in HTML_TYPES:
        return value
    return html.escape(value, quote=False)


def as_paragraphs(detail: Any) -> str:
    """Body text: plain text becomes paragraphs, HTML stays as it is."""
    if detail.get("type", "text/html") in HTML_TYPES:
        return str(detail.get("value", ""))
    lines = [line.strip() for line in str(detail.get("value", "")).split("\n\n")]
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines if line)


def struct_time_utc(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    return datetime(*value[:6], tzinfo=UTC)


def entry_categories(entry: Any) -> list[Category]:
    found: dict[str, Category] = {}
    for tag in entry.get("tags") or []:
        term = str(tag.get("term") or "").strip()
        label = str(tag.get("label") or term).strip()
        slug = slugify(term)
        if slug:
            found.setdefault(slug, Category(slug, html.unescape(label)))
    return list(found.values())


def entry_image(entry: Any) -> tuple[str, str]:
    for media in (entry.get("media_content") or []) + (entry.get("media_thumbnail") or []):
        if media.get("url") and media.get("medium", "image") == "image":
            return str(media["url"]), ""
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return str(link.get("href", "")), ""
    return "", ""


def entry_language(entry: Any) -> str:
    for detail in [*(entry.get("content") or []), entry.get("summary_detail") or {}]:
        if detail.get("language"):
            return str(detail["language"])
    return ""


def short_language(tag: str) -> str:
    """'tr-TR' -> 'tr'; '' stays ''."""
    return tag.strip().lower().replace("_", "-").split("-")[0][:8]

"""The `feed` source: RSS 0.9x/1.0/2.0 and Atom -> Articles (feedparser).

Pure. Full content (``content:encoded``, Atom ``content``) is preferred over summaries.
feedparser's own sanitizer and URL resolver are off: ``clean.finish`` does both with the
same rules as every other source (and far faster). A malformed feed whose entries could
still be read is kept; one that yields nothing is a ParseError naming the problem; an
entry that cannot be read is skipped and named ("<guid or link>: <reason>").

Categories and tags are kept apart. A term whose ``domain``/``scheme`` names its
taxonomy goes by it. WordPress's stock RSS and Atom write categories and tags alike
(``<category>name</category>``), so an unmarked term is a category only when the source
knows its categories (``known_categories``) and it is one of them; with nothing known,
every unmarked term is a category, as the feed presents it.
"""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import Any

import feedparser

from m5syndicate.collect import urls
from m5syndicate.collect.clean import slugify
from m5syndicate.collect.encoding import xml_as_utf8
from m5syndicate.collect.language import short_language
from m5syndicate.collect.parsed import Parsed
from m5syndicate.collect.reading import (
    FEED_TYPES,
    Page,
    ReadContext,
    get_conditionally,
    moved,
    validators,
)
from m5syndicate.errors import ParseError
from m5syndicate.models import Article, Category

HTML_TYPES = ("text/html", "application/xhtml+xml")


def parse_feed(
    body: bytes,
    base_url: str,
    content_type: str,
    fallback_time: datetime,
    known_categories: Collection[str] | None = None,
) -> Parsed:
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
            parsed.articles.append(parse_entry(entry, fallback_time, known_categories))
        except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as exc:
            parsed.skipped.append(f"{entry_name(entry, index)}: {exc}; skipped")
    return parsed


def entry_name(entry: Any, index: int) -> str:
    """What names an entry in a skip report: its guid, else its link, else its place."""
    try:
        return str(entry.get("id") or entry.get("link") or f"entry #{index + 1}")
    except (AttributeError, TypeError):
        return f"entry #{index + 1}"


def parse_entry(
    entry: Any, fallback_time: datetime, known_categories: Collection[str] | None = None
) -> Article:
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
    categories, tags = entry_terms(entry, known_categories)
    return Article(
        guid=guid,
        url=link or guid,
        title=as_html(entry.get("title_detail") or {"value": entry.get("title", "")}),
        content_html=content,
        summary=summary,
        language=short_language(entry_language(entry)),  # "payload": the entry's own
        published_at=published,
        updated_at=max(updated or published, published),
        categories=categories,
        tags=tags,
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


# A term's domain (RSS) or scheme (Atom), when a feed marks its taxonomy.
TAG_DOMAINS = ("post_tag", "tag", "/tag/", "/etiket/", "keyword")
CATEGORY_DOMAINS = ("category", "/kategori/")


def entry_terms(
    entry: Any, known_categories: Collection[str] | None = None
) -> tuple[list[Category], list[Category]]:
    """(categories, tags) of an entry, each unique by slug, in feed order."""
    categories: dict[str, Category] = {}
    tags: dict[str, Category] = {}
    for term in entry.get("tags") or []:
        name = str(term.get("term") or "").strip()
        label = html.unescape(str(term.get("label") or name).strip())
        slug = slugify(name)
        if not slug:
            continue
        kind = term_kind(str(term.get("scheme") or "").lower(), slug, known_categories)
        (tags if kind == "tag" else categories).setdefault(slug, Category(slug, label))
    return list(categories.values()), list(tags.values())


def term_kind(scheme: str, slug: str, known_categories: Collection[str] | None) -> str:
    if any(marker in scheme for marker in TAG_DOMAINS):
        return "tag"
    if any(marker in scheme for marker in CATEGORY_DOMAINS):
        return "category"
    if known_categories is None or slug in known_categories:
        return "category"
    return "tag"


def entry_image(entry: Any) -> tuple[str, str]:
    """The first image (media, then enclosure) whose URL the URL policy allows."""
    for media in (entry.get("media_content") or []) + (entry.get("media_thumbnail") or []):
        if urls.safe_url(media.get("url")) and media.get("medium", "image") == "image":
            return str(media["url"]), ""
    for link in entry.get("links") or []:
        image = link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
        if image and urls.safe_url(link.get("href")):
            return str(link.get("href", "")), ""
    return "", ""


def entry_language(entry: Any) -> str:
    for detail in [*(entry.get("content") or []), entry.get("summary_detail") or {}]:
        if detail.get("language"):
            return str(detail["language"])
    return ""


def parse(body: bytes, base_url: str, content_type: str, now: datetime) -> Parsed:
    """The source type's parser signature (terms of unknown kind count as categories)."""
    return parse_feed(body, base_url, content_type, now)


async def read(ctx: ReadContext) -> AsyncIterator[Page]:
    response = await get_conditionally(ctx, ctx.state.url, FEED_TYPES)
    if response.not_modified:
        yield Page(not_modified=True, save=moved(response))
        return
    known = ctx.known_categories | set(ctx.source.categories) or None
    parsed = parse_feed(
        response.body, response.url, response.content_type, ctx.now, known_categories=known
    )
    language = parsed.default_language
    articles, failed = ctx.finish_each(parsed.articles, response.url, language)
    page_save = {**validators(response), **moved(response)}
    yield Page(articles, parsed.skipped + failed, page_save)

"""The `html` source: a section page listing articles, and the article pages themselves.

Pure. The main text is extracted by trafilatura; title, dates, image, author and
categories come from the page's metadata: Open Graph (``og:*``, ``article:*``), JSON-LD
(``NewsArticle``...), then plain HTML (``<title>``, ``<link rel=canonical>``,
``<html lang>``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import html as lxml_html
from lxml.etree import ParserError as LxmlParserError

from m5syndicate.collect.clean import canonical_url, category_from_name
from m5syndicate.collect.encoding import decode
from m5syndicate.collect.language import short_language
from m5syndicate.collect.parsed import Parsed, iso_utc
from m5syndicate.collect.reading import (
    HTML_TYPES,
    Page,
    ReadContext,
    describe,
    get_conditionally,
    moved,
    validators,
)
from m5syndicate.errors import FetchError, ParseError
from m5syndicate.models import Article, Category

MAX_NEW_PAGES = 50  # article pages fetched per run; the rest come next run

ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle"}
# Where a section page puts the links to its articles.
LINK_PLACES = (
    "//article//a[@href]",
    "//h1/a[@href] | //h2/a[@href] | //h3/a[@href] | //h4/a[@href]",
    "//*[contains(@class, 'post-title') or contains(@class, 'entry-title')]//a[@href]",
)
LISTING_PATH = re.compile(r"/(category|kategori|tag|etiket|author|yazar|page|feed)(/|$)", re.I)


def parse_document(body: bytes, url: str, content_type: str) -> lxml_html.HtmlElement:
    try:
        return lxml_html.document_fromstring(decode(body, content_type), base_url=url)
    except (LxmlParserError, ValueError) as exc:
        raise ParseError(f"collect: {url} is not an HTML page ({exc}); check the url") from exc


def find_article_links(body: bytes, url: str, content_type: str = "") -> list[str]:
    """Absolute, canonical URLs of the articles a section page lists, in page order."""
    doc = parse_document(body, url, content_type)
    host = urlsplit(url).netloc
    section = canonical_url(url)
    found: dict[str, None] = {}
    for xpath in LINK_PLACES:
        for anchor in doc.xpath(xpath):
            link = canonical_url(urljoin(url, anchor.get("href", "").strip()))
            parts = urlsplit(link)
            if parts.scheme not in ("http", "https") or parts.netloc != host:
                continue
            if link == section or LISTING_PATH.search(parts.path) or parts.path in ("", "/"):
                continue
            found.setdefault(link, None)
    return list(found)


@dataclass
class PageMeta:
    """What a page says about itself, from every place it may say it."""

    values: dict[str, str] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    def first(self, *keys: str) -> str:
        return next((self.values[k] for k in keys if self.values.get(k)), "")


def parse_article(body: bytes, url: str, content_type: str, fallback_time: datetime) -> Article:
    """One article page -> an uncleaned Article; ParseError if it has no article text."""
    doc = parse_document(body, url, content_type)
    meta = page_meta(doc)
    content = main_text(doc, url)
    if not content:
        raise ParseError(f"collect: {url}: no article text found; is it an article page?")
    canonical = canonical_url(urljoin(url, meta.first("canonical", "og:url") or url))
    published = meta_time(meta.first("article:published_time", "ld:datePublished"))
    published = published or fallback_time
    updated = meta_time(meta.first("article:modified_time", "ld:dateModified", "og:updated_time"))
    # JSON-LD's inLanguage describes the article; <html lang> and og:locale the page,
    # which themes often hard-code: weaker than a category's or the source's language.
    own_language = short_language(meta.first("ld:inLanguage"))
    page_language = short_language(meta.first("og:locale", "lang"))
    return Article(
        guid=canonical_url(url),  # where we found it: what the section page links to
        url=canonical,
        title=escape(page_title(doc, meta), quote=False),  # finish() reads titles as HTML
        content_html=content,
        summary=escape(meta.first("og:description", "description"), quote=False),
        language=own_language or page_language,
        language_source="payload" if own_language else "document",
        published_at=published,
        updated_at=max(updated or published, published),
        categories=unique_categories(meta.sections),
        author=meta.first("ld:author", "author", "article:author"),
        image_url=meta.first("og:image", "ld:image"),
        image_alt=meta.first("og:image:alt"),
    )


def main_text(doc: lxml_html.HtmlElement, url: str) -> str:
    extracted = trafilatura.extract(
        doc,
        url=url,
        output_format="html",
        include_images=True,
        include_links=True,
        include_comments=False,
        include_tables=True,
    )
    if not extracted:
        return ""
    inner = re.search(r"<body>(.*)</body>", extracted, re.S)
    return (inner.group(1) if inner else extracted).strip()


def page_meta(doc: lxml_html.HtmlElement) -> PageMeta:
    meta = PageMeta()
    for tag in doc.iter("meta"):
        key = (tag.get("property") or tag.get("name") or "").strip().lower()
        value = (tag.get("content") or "").strip()
        if not key or not value:
            continue
        if key == "article:section":
            meta.sections.append(value)
        meta.values.setdefault(key, value)
    for link in doc.xpath("//link[@rel='canonical'][@href]"):
        meta.values.setdefault("canonical", link.get("href").strip())
    meta.values.setdefault("lang", doc.get("lang", ""))
    title = doc.find(".//title")
    meta.values.setdefault("title", (title.text_content() if title is not None else "").strip())
    for item in json_ld_articles(doc):
        read_json_ld(item, meta)
    return meta


def json_ld_articles(doc: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in doc.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue  # a broken JSON-LD block only loses its metadata
        for item in walk_json_ld(data):
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if ARTICLE_TYPES & {str(kind) for kind in kinds}:
                yield item


def walk_json_ld(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from walk_json_ld(item)
    elif isinstance(data, dict):
        yield data
        yield from walk_json_ld(data.get("@graph", []))


def read_json_ld(item: dict[str, Any], meta: PageMeta) -> None:
    for key in ("headline", "datePublished", "dateModified", "inLanguage"):
        if isinstance(item.get(key), str):
            meta.values.setdefault(f"ld:{key}", item[key])
    meta.values.setdefault("ld:image", ld_text(item.get("image"), "url"))
    meta.values.setdefault("ld:author", ld_text(item.get("author"), "name"))
    sections = item.get("articleSection") or []
    meta.sections.extend([sections] if isinstance(sections, str) else map(str, sections))


def ld_text(value: Any, key: str) -> str:
    """JSON-LD's 'a string, an object or a list of either' -> the first string."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get(key, "")
    return value if isinstance(value, str) else ""


def page_title(doc: lxml_html.HtmlElement, meta: PageMeta) -> str:
    title = meta.first("og:title", "ld:headline")
    if not title:
        heading = doc.find(".//h1")
        title = heading.text_content().strip() if heading is not None else meta.first("title")
    site = meta.first("og:site_name")
    for separator in (" - ", " | ", " – ", " — "):
        if site and title.endswith(separator + site):
            return title[: -len(separator + site)].strip()
    return title


def meta_time(value: str) -> datetime | None:
    try:
        return iso_utc(value) if value else None
    except ValueError:
        return None


def unique_categories(names: list[str]) -> list[Category]:
    found: dict[str, Category] = {}
    for name in names:
        category = category_from_name(name)
        if category.slug:
            found.setdefault(category.slug, category)
    return list(found.values())


def parse(body: bytes, base_url: str, content_type: str, now: datetime) -> Parsed:
    """The source type's parser signature: one article page (``now`` dates it if the
    page gives no time)."""
    return Parsed([parse_article(body, base_url, content_type, now)])


async def read(ctx: ReadContext) -> AsyncIterator[Page]:
    """The section page (conditionally), then only the article pages not stored yet."""
    section = await get_conditionally(ctx, ctx.state.url, HTML_TYPES)
    if section.not_modified:
        yield Page(not_modified=True, save=moved(section))
        return
    links = find_article_links(section.body, section.url, section.content_type)
    known = ctx.known_urls(links)
    page = Page()
    for link in [link for link in links if link not in known][:MAX_NEW_PAGES]:
        try:
            answer = await ctx.fetcher.get(link, accept_type=HTML_TYPES)
            article = parse_article(answer.body, answer.url, answer.content_type, ctx.now)
            finished, failed = ctx.finish_each([article], answer.url)
            page.articles += finished
            page.skipped += failed
        except FetchError as exc:
            if exc.retry_after is not None:
                raise  # the site asks us to slow down: stop this run, not just this page
            page.skipped.append(str(exc))
        except ParseError as exc:
            page.skipped.append(str(exc))
        # trafilatura or lxml failing on one page is that page's failure, not the run's.
        except Exception as exc:
            page.skipped.append(f"{link}: {describe(exc)}; skipped")
    # A failed article page keeps the section's validators unsaved, so it is retried.
    complete = not page.skipped and len(links) - len(known) <= MAX_NEW_PAGES
    page.save = {**(validators(section) if complete else {}), **moved(section)}
    yield page

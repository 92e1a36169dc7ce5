"""Feed builders: articles + meta -> bytes. Pure: no I/O, no clock, no locale change.
The same articles give the same bytes, so golden files compare bytes.

feedgen 1.0.0 builds the XML formats. Its traps, and what we do about each:

1. Atom entry links lose ``rel``, ``type`` and ``length`` (python-feedgen issue 135):
   ``EntryFixes`` puts them back on the elements feedgen wrote, in the same order.
2. ``type="CDATA"`` is not an Atom content type: we only ever pass ``type="html"``
   (escaped text), so no CDATA reaches either format.
3. ``add_entry`` prepends: every entry is added with ``order="append"``.
4. ``updated`` defaults to now on the feed and on every entry: both are always set, the
   feed's to the newest item update (``feed_updated``).
5. RSS dates go through ``formatRFC2822``, which switches the process locale (LC_ALL) to
   C and back: not thread-safe in a server. feedgen formats no RSS date here: the
   channel's default lastBuildDate is cleared and no entry gets ``pubDate``;
   ``FeedFixes``/``EntryFixes`` write both, formatted by ``email.utils``.
6. Atom dates come out as ``+00:00``; they are rewritten as RFC 3339 ``Z``.
7. The RSS channel ``<link>`` is whichever feed link was added last, and RSS gets only the
   ``self`` atom:link: the alternate link is added last, and ``FeedFixes`` writes the
   WebSub hub link in both formats.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from m5syndicate.feeds.catalog import FORMATS, FeedMeta, FeedSpec
from m5syndicate.feeds.items import (
    EPOCH,
    FeedItem,
    feed_items,
    feed_updated,
    one_line,
    rfc822,
    rfc3339,
)
from m5syndicate.models import Article

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GENERATOR = "m5syndicate"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
Element = Any  # lxml elements (lxml ships no type hints)


class FeedFixes(BaseExtension):
    """Feed-level repairs (traps 5, 6, 7): our dates, and the hub link."""

    def __init__(self) -> None:
        self.updated: datetime | None = None
        self.hub = ""

    def extend_atom(self, feed: Element) -> Element:
        feed.find("updated").text = rfc3339(self.updated or EPOCH)
        if self.hub:
            etree.SubElement(feed, "link", href=self.hub, rel="hub")
        return feed

    def extend_rss(self, rss: Element) -> Element:
        channel = rss[0]
        if self.updated:
            etree.SubElement(channel, "lastBuildDate").text = rfc822(self.updated)
        if self.hub:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
        return rss


class EntryFixes(BaseEntryExtension):
    """Entry-level repairs (traps 1, 5, 6) and xml:lang, which feedgen lacks."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.published: datetime | None = None
        self.updated: datetime = EPOCH
        self.language = ""

    def extend_atom(self, entry: Element) -> Element:
        for element, link in zip(entry.findall("link"), self.links, strict=True):
            for key in ("rel", "type", "length"):
                if link.get(key):
                    element.set(key, link[key])
        entry.find("updated").text = rfc3339(self.updated)
        if self.published is not None:
            entry.find("published").text = rfc3339(self.published)
        if self.language:
            entry.set(XML_LANG, self.language)
        return entry

    def extend_rss(self, item: Element) -> Element:
        if self.published is not None:
            etree.SubElement(item, "pubDate").text = rfc822(self.published)
        return item


def build_rss(articles: Sequence[Article], meta: FeedMeta) -> bytes:
    return render_rss(feed_items(articles, meta), meta)


def build_atom(articles: Sequence[Article], meta: FeedMeta) -> bytes:
    return render_atom(feed_items(articles, meta), meta)


def build_json(articles: Sequence[Article], meta: FeedMeta) -> bytes:
    return render_json(feed_items(articles, meta), meta)


def build_all(articles: Sequence[Article], meta: FeedMeta) -> dict[str, bytes]:
    """Every format of one feed; the articles are cleaned once for all three."""
    return render_all(feed_items(articles, meta), meta)


def render_all(items: Sequence[FeedItem], meta: FeedMeta) -> dict[str, bytes]:
    return {fmt: RENDERERS[fmt](items, meta) for fmt in FORMATS}


def new_generator(meta: FeedMeta, items: Sequence[FeedItem], *extensions: str) -> Any:
    fg = FeedGenerator()
    for name in extensions:
        fg.load_extension(name)
    fg.register_extension("m5", FeedFixes, EntryFixes)
    fg.m5.updated = feed_updated(items) if items else None
    fg.m5.hub = meta.hub
    fg.title(meta.spec.title)
    fg.generator(GENERATOR)
    if meta.spec.declared_language:
        fg.language(meta.spec.declared_language)
    return fg


def render_rss(items: Sequence[FeedItem], meta: FeedMeta) -> bytes:
    fg = new_generator(meta, items, "dc", "media")
    fg._FeedGenerator__rss_lastBuildDate = None  # trap 5: FeedFixes writes it
    fg.link(href=meta.url("rss"), rel="self", type=FORMATS["rss"])
    fg.link(href=meta.home_url, rel="alternate")  # last: it becomes the channel <link> (trap 7)
    fg.description(meta.spec.description or meta.spec.title)
    for item in items:
        add_rss_item(fg.add_entry(order="append"), item)
    return bytes(fg.rss_str(pretty=True))


def add_rss_item(fe: Any, item: FeedItem) -> None:
    fe.guid(item.id, permalink=item.permalink)
    fe.title(item.title)
    fe.link(href=item.url)
    fe.description(html.escape(item.summary or item.title, quote=False))
    if item.content_html:
        fe.content(item.content_html)  # beside a description: content:encoded
    if item.author:
        fe.dc.dc_creator(item.author)
    for category in item.categories:
        fe.category(term=category.term, label=category.label)
    if item.image_url:
        # Length 0: unknown, as the RSS Best Practices Profile says to write it.
        fe.enclosure(item.image_url, 0, item.image_type)
        fe.media.content(media_content(item))
    fe.m5.published = item.published


def media_content(item: FeedItem) -> dict[str, Any]:
    # group None: media:content directly in the item, not inside a media:group
    return {"url": item.image_url, "medium": "image", "type": item.image_type, "group": None}


def render_atom(items: Sequence[FeedItem], meta: FeedMeta) -> bytes:
    fg = new_generator(meta, items, "media")
    fg.id(meta.feed_id)
    fg.updated(feed_updated(items))  # trap 4 (FeedFixes writes the text, trap 6)
    fg.author(name=meta.site_title, uri=meta.home_url)
    fg.link(href=meta.home_url, rel="alternate", type="text/html")
    fg.link(href=meta.url("atom"), rel="self", type=FORMATS["atom"])
    if meta.spec.description:
        fg.subtitle(meta.spec.description)
    for item in items:
        add_atom_entry(fg.add_entry(order="append"), item)
    return bytes(fg.atom_str(pretty=True))


def add_atom_entry(fe: Any, item: FeedItem) -> None:
    fe.id(item.id)
    fe.title(item.title)
    fe.updated(item.updated or EPOCH)
    fe.m5.updated = item.updated or EPOCH
    if item.published:
        fe.published(item.published)
        fe.m5.published = item.published
    links = [{"href": item.url, "rel": "alternate", "type": "text/html"}]
    if item.image_url:
        links.append({"href": item.image_url, "rel": "enclosure", "type": item.image_type})
        fe.media.content(media_content(item))
    fe.link([dict(link) for link in links])
    fe.m5.links = links
    if item.summary:
        fe.summary(html.escape(item.summary, quote=False), type="html")
    if item.content_html:
        fe.content(item.content_html, type="html")  # trap 2: never "CDATA"
    if item.author:
        fe.author(name=item.author)
    for category in item.categories:
        fe.category(term=category.term, label=category.label)
    fe.m5.language = item.language


def render_json(items: Sequence[FeedItem], meta: FeedMeta) -> bytes:
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": meta.spec.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.url("json"),
        "description": meta.spec.description or meta.spec.title,
        "authors": [{"name": meta.site_title, "url": meta.home_url}],
    }
    if meta.spec.declared_language:
        feed["language"] = meta.spec.declared_language
    if meta.hub:
        feed["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    feed["items"] = [json_item(item) for item in items]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def json_item(item: FeedItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": item.id, "url": item.url, "title": item.title}
    if item.content_html:
        entry["content_html"] = item.content_html
    else:
        entry["content_text"] = item.summary or item.title
    if item.summary:
        entry["summary"] = item.summary
    if item.image_url:
        entry["image"] = item.image_url
    if item.published:
        entry["date_published"] = rfc3339(item.published)
    if item.updated:
        entry["date_modified"] = rfc3339(item.updated)
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.categories:
        entry["tags"] = [category.label for category in item.categories]
    if item.language:
        entry["language"] = item.language
    return entry


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


def build_opml(catalog: Sequence[FeedSpec], public_url: str, title: str, home_url: str) -> bytes:
    """OPML 2.0 listing every feed (its RSS URL; each feed's other formats sit beside it)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = one_line(title)
    body = etree.SubElement(root, "body")
    base = public_url.rstrip("/")
    for spec in catalog:
        outline = etree.SubElement(body, "outline", type="rss", text=spec.title)
        outline.set("title", spec.title)
        outline.set("xmlUrl", base + spec.path("rss"))
        outline.set("htmlUrl", home_url)
        if spec.declared_language:
            outline.set("language", spec.declared_language)
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))

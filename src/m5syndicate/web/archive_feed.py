"""The archive feed: every sent edition as an Atom or RSS entry, built with feedgen.

The same traps as feeds/build.py apply (see its docstring): RSS dates are never given to
feedgen (it switches the process locale to format them), ``EditionDates`` writes them;
Atom dates are rewritten as RFC 3339 ``Z``; entries are appended, never prepended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from m5syndicate.feeds.items import EPOCH, rfc822, rfc3339

GENERATOR = "m5syndicate"
Element = Any  # lxml elements (lxml ships no type hints)


@dataclass(frozen=True)
class ArchiveEntry:
    """One sent edition as a feed shows it."""

    id: str
    title: str
    url: str
    sent_at: datetime


@dataclass(frozen=True)
class ArchiveMeta:
    title: str
    language: str
    home_url: str  # the archive index
    self_url: str
    feed_id: str


class FeedDates(BaseExtension):
    def __init__(self) -> None:
        self.updated: datetime = EPOCH

    def extend_atom(self, feed: Element) -> Element:
        feed.find("updated").text = rfc3339(self.updated)
        return feed

    def extend_rss(self, rss: Element) -> Element:
        etree.SubElement(rss[0], "lastBuildDate").text = rfc822(self.updated)
        return rss


class EditionDates(BaseEntryExtension):
    def __init__(self) -> None:
        self.sent_at: datetime = EPOCH

    def extend_atom(self, entry: Element) -> Element:
        entry.find("updated").text = rfc3339(self.sent_at)
        return entry

    def extend_rss(self, item: Element) -> Element:
        etree.SubElement(item, "pubDate").text = rfc822(self.sent_at)
        return item


def generator(meta: ArchiveMeta, entries: Sequence[ArchiveEntry]) -> Any:
    fg = FeedGenerator()
    fg.register_extension("m5", FeedDates, EditionDates)
    fg.m5.updated = max((e.sent_at for e in entries), default=EPOCH)
    fg.title(meta.title)
    fg.generator(GENERATOR)
    fg.language(meta.language)
    return fg


def archive_atom(meta: ArchiveMeta, entries: Sequence[ArchiveEntry]) -> bytes:
    fg = generator(meta, entries)
    fg.id(meta.feed_id)
    fg.updated(fg.m5.updated)
    fg.author(name=meta.title, uri=meta.home_url)
    fg.link(href=meta.home_url, rel="alternate", type="text/html")
    fg.link(href=meta.self_url, rel="self", type="application/atom+xml")
    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.title(entry.title)
        fe.updated(entry.sent_at)
        fe.m5.sent_at = entry.sent_at
        fe.link(href=entry.url, rel="alternate", type="text/html")
    return bytes(fg.atom_str(pretty=True))


def archive_rss(meta: ArchiveMeta, entries: Sequence[ArchiveEntry]) -> bytes:
    fg = generator(meta, entries)
    fg._FeedGenerator__rss_lastBuildDate = None  # FeedDates writes it (locale-safe)
    fg.link(href=meta.self_url, rel="self", type="application/rss+xml")
    fg.link(href=meta.home_url, rel="alternate")  # last: it becomes the channel <link>
    fg.description(meta.title)
    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.guid(entry.id, permalink=False)
        fe.title(entry.title)
        fe.link(href=entry.url)
        fe.description(entry.title)
        fe.m5.sent_at = entry.sent_at
    return bytes(fg.rss_str(pretty=True))

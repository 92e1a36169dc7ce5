"""What every reader shares: the Page it yields, the ReadContext it is given, and the
small helpers of conditional GETs and moved URLs.

A reader yields Pages. The use case stores each page's articles and, in the same
transaction, the page's ``save`` (cursor, validators, a moved URL), so a checkpoint never
runs ahead of the articles it stands for. Each source type's module (wordpress, feed,
html, directory) has ``read(ctx)`` and ``parse(body, base_url, content_type, now)``; the
dispatcher is ``collect.types.SOURCE_TYPES``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from m5syndicate.collect import clean
from m5syndicate.collect.fetcher import Fetched, Fetcher
from m5syndicate.collect.language import LanguageRules, category_languages
from m5syndicate.config import CollectSettings, SourceSettings
from m5syndicate.models import Article, SourceState

FEED_TYPES = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
HTML_TYPES = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
JSON_TYPES = "application/json"


@dataclass
class Page:
    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    save: dict[str, str] = field(default_factory=dict)  # source row fields, stored with it
    not_modified: bool = False
    # When set: every guid the upstream publishes now (a reconciliation); stored articles
    # of this source missing from it are withdrawn.
    present_guids: frozenset[str] | None = None


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs: the source, its stored state, the fetcher, the settings."""

    source: SourceSettings
    state: SourceState
    fetcher: Fetcher
    settings: CollectSettings
    timezone: str  # the site's zone: WordPress compares modified_after in local time
    now: datetime
    known_urls: Callable[[Sequence[str]], set[str]]  # article URLs already stored
    site_language: str = "tr"  # the last resort: an article always has a language
    # Category slugs known to be categories (not tags): a feed's unmarked terms are tags
    # unless listed here; empty means nothing is known, and every term is a category.
    known_categories: frozenset[str] = frozenset()

    def finish(self, article: Article, base_url: str = "", document_language: str = "") -> Article:
        """Clean one article; ``document_language`` is what the feed as a whole says."""
        base = base_url or article.url
        rules = LanguageRules(
            source=self.source.language,
            categories=category_languages(self.settings.category_languages),
            site=self.site_language,
        )
        return clean.finish(article, base, self.settings.boilerplate, rules, document_language)

    def finish_each(
        self, articles: Sequence[Article], base_url: str = "", document_language: str = ""
    ) -> tuple[list[Article], list[str]]:
        """(cleaned articles, "<guid or url>: <reason>" of each one that could not be)."""
        finished, skipped = [], []
        for article in articles:
            try:
                finished.append(self.finish(article, base_url, document_language))
            # Any error in one item's cleaning is that item's, never the page's: the rest
            # is stored and the walk goes on (issue 11, item 4).
            except Exception as exc:
                skipped.append(f"{article.guid or article.url}: {describe(exc)}; skipped")
        return finished, skipped


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def moved(response: Fetched, url: str | None = None) -> dict[str, str]:
    """A permanent redirect moves the stored URL (the configured one is kept apart)."""
    return {"url": url or response.moved_to} if response.moved_to else {}


def validators(response: Fetched) -> dict[str, str]:
    return {"etag": response.etag, "last_modified": response.last_modified}


async def get_conditionally(ctx: ReadContext, url: str, accept_type: str) -> Fetched:
    """GET with the source's stored validators sent back verbatim (304 when unchanged)."""
    return await ctx.fetcher.get(
        url, etag=ctx.state.etag, last_modified=ctx.state.last_modified, accept_type=accept_type
    )


Reader = Callable[[ReadContext], AsyncIterator[Page]]

"""Which feeds exist: one of everything per language, one per category (from [feeds]).

Shared by the builder, the web app (routes, OPML, autodiscovery links) and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from m5syndicate.config import FeedsSettings, SiteSettings

FORMATS = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
LANGUAGE_NAMES = {"tr": "Türkçe", "en": "English"}


@dataclass(frozen=True)
class FeedSpec:
    name: str  # the file and URL name: /feeds/{name}.{format}
    title: str
    language: str | None  # None: any language
    category: str | None  # a category slug, or None for everything

    def path(self, fmt: str) -> str:
        return f"/feeds/{self.name}.{fmt}"


def feed_catalog(feeds: FeedsSettings, site: SiteSettings) -> list[FeedSpec]:
    specs = [
        FeedSpec(f"all-{lang}", f"{site.title} ({LANGUAGE_NAMES.get(lang, lang)})", lang, None)
        for lang in feeds.languages
    ]
    specs += [FeedSpec(slug, f"{site.title}: {slug}", None, slug) for slug in feeds.categories]
    return specs

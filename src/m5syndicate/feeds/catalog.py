"""Which feeds exist: one of everything per language, one per category (from [feeds]).

Shared by the builder, the publisher, the web app (routes, OPML, autodiscovery links)
and the CLI. Pure: settings in, plain data out.

A category feed holds its category's articles in every language, and speaks one: its
title and description use the category's name (``[feeds] category_names``) in the site's
language when it has one there, else in the first language it has a name in (M5 Dergi's
"defence-news" is named in English), and the feed declares that language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from m5syndicate.config import FeedsSettings, SiteSettings

FORMATS = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
LANGUAGE_NAMES = {"tr": "Türkçe", "en": "English"}
CATEGORY_DESCRIPTIONS = {
    "tr": "{site}: {name} kategorisindeki haberler",
    "en": "{site}: articles in {name}",
}
CategoryNames = Mapping[str, Mapping[str, str]]  # slug -> language -> name


@dataclass(frozen=True)
class FeedSpec:
    name: str  # the file and URL name: /feeds/{name}.{format}
    title: str
    language: str | None  # None: any language
    category: str | None  # a category slug, or None for everything
    description: str = ""
    speaks: str = ""  # the language of its title and description, when not `language`

    @property
    def declared_language(self) -> str:
        """What the feed says it is in: its articles' language, else its words'."""
        return self.language or self.speaks

    def path(self, fmt: str) -> str:
        return f"/feeds/{self.name}.{fmt}"

    def filename(self, fmt: str) -> str:
        return f"{self.name}.{fmt}"


@dataclass(frozen=True)
class FeedMeta:
    """What a builder needs to know about one feed besides its articles."""

    spec: FeedSpec
    public_url: str  # this service, where the feeds are served (no trailing slash)
    home_url: str  # the publisher's site: the feed's alternate link
    site_title: str  # the feed's author
    hub: str = ""  # a WebSub hub to advertise, or ""
    full_content: bool = True
    category_names: CategoryNames = field(default_factory=dict)

    def category_label(self, slug: str, language: str, fallback: str) -> str:
        """A category's name in ``language`` (the item's, else the feed's), else ``fallback``."""
        named = self.category_names.get(slug, {})
        return named.get(language) or named.get(self.spec.declared_language) or fallback

    def url(self, fmt: str) -> str:
        return self.public_url + self.spec.path(fmt)

    @property
    def feed_id(self) -> str:
        """The Atom feed id: stable whatever the format or the build."""
        return self.url("atom")


def feed_catalog(feeds: FeedsSettings, site: SiteSettings) -> list[FeedSpec]:
    specs = [
        FeedSpec(
            f"all-{lang}",
            f"{site.title} ({LANGUAGE_NAMES.get(lang, lang)})",
            lang,
            None,
            f"{site.title}: every article in {LANGUAGE_NAMES.get(lang, lang)}",
        )
        for lang in feeds.languages
    ]
    names = feeds.category_labels
    specs += [category_spec(slug, names.get(slug, {}), site) for slug in feeds.categories]
    return specs


def category_spec(slug: str, names: Mapping[str, str], site: SiteSettings) -> FeedSpec:
    speaks = site.language if site.language in names or not names else next(iter(names))
    name = names.get(speaks, slug)
    description = CATEGORY_DESCRIPTIONS.get(speaks, CATEGORY_DESCRIPTIONS["en"])
    return FeedSpec(
        slug,
        f"{site.title}: {name}",
        None,
        slug,
        description.format(site=site.title, name=name),
        speaks=speaks,
    )


def feed_meta(spec: FeedSpec, feeds: FeedsSettings, site: SiteSettings) -> FeedMeta:
    return FeedMeta(
        spec=spec,
        public_url=site.public_url.rstrip("/"),
        home_url=site.url,
        site_title=site.title,
        hub=feeds.websub_hub,
        full_content=feeds.full_content,
        category_names=feeds.category_labels,
    )


def find_spec(catalog: list[FeedSpec], name: str) -> FeedSpec | None:
    return next((spec for spec in catalog if spec.name == name), None)


def autodiscovery_links(
    catalog: list[FeedSpec], public_url: str, language: str | None = None
) -> list[dict[str, str]]:
    """Attributes of one ``<link rel="alternate">`` per feed and format, for HTML pages.

    With ``language``, only feeds in that language or in none (category feeds) are
    listed. Templates escape the values; nothing here is HTML.
    """
    base = public_url.rstrip("/")
    return [
        {
            "rel": "alternate",
            "type": media_type,
            "title": f"{spec.title} ({FORMAT_NAMES[fmt]})",
            "href": base + spec.path(fmt),
        }
        for spec in catalog
        if language is None or spec.language in (None, language)
        for fmt, media_type in FORMATS.items()
    ]

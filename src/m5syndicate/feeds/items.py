"""Articles -> feed items: what every format shows, cleaned once. Pure.

Every rule that readers depend on lives here, so the three formats cannot disagree:
- ids are stable forever: the upstream guid when it is an absolute URI, else a ``tag:``
  URI made from the site's host, the source and the guid;
- URLs are absolute http(s), or dropped (``collect.urls``: the policy articles were
  collected under, applied again to every link, image and URL attribute of the HTML);
- times are UTC, to the second; an undated item gets the epoch, never "now";
- text holds no XML-illegal characters; HTML is sanitized again (defence in depth: the
  store already holds sanitized HTML, but a feed must stay safe if it ever did not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urlsplit

import nh3

from m5syndicate.collect import urls
from m5syndicate.feeds.catalog import FeedMeta
from m5syndicate.models import Article

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# XML 1.0 forbids C0 controls but tab/LF/CR, surrogates and U+FFFE/U+FFFF; C1 controls
# and noncharacters are allowed but only ever garbage in an article, so they go too.
XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)
SPACES = re.compile(r"\s+")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")  # RFC 3066, as Atom wants
# Our own table: the mimetypes module reads /etc/mime.types, which differs by machine.
IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}
TAG_DATE = "2026"  # the tag: URI date; part of every such id, so never change it
URL_SCHEMES = set(urls.LINK_SCHEMES)


@dataclass(frozen=True)
class ItemCategory:
    term: str
    label: str


@dataclass(frozen=True)
class FeedItem:
    id: str
    permalink: bool  # the id is the item's own URL (RSS isPermaLink)
    url: str
    title: str
    summary: str  # plain text
    content_html: str  # sanitized; "" when the feed carries summaries only
    author: str
    language: str
    image_url: str  # "" when none
    image_type: str
    categories: tuple[ItemCategory, ...]
    published: datetime | None
    updated: datetime | None


def feed_items(articles: Sequence[Article], meta: FeedMeta) -> list[FeedItem]:
    return [feed_item(article, meta) for article in articles]


def feed_item(article: Article, meta: FeedMeta) -> FeedItem:
    url = absolute_url(meta.home_url, article.url) or meta.home_url
    image = absolute_url(url, article.image_url)
    published, updated = item_dates(article)
    item_id, permalink = stable_id(article, url, meta.home_url)
    return FeedItem(
        id=item_id,
        permalink=permalink,
        url=url,
        title=one_line(article.title) or url,
        summary=clean_text(article.summary).strip(),
        content_html=clean_html(article.content_html) if meta.full_content else "",
        author=one_line(article.author),
        language=language_tag(article.language),
        image_url=image,
        image_type=image_type(image),
        categories=tuple(
            ItemCategory(
                one_line(c.slug),
                one_line(meta.category_label(c.slug, article.language, c.name)) or one_line(c.slug),
            )
            for c in article.categories
            if one_line(c.slug)
        ),
        published=published,
        updated=updated,
    )


def clean_text(text: str | None) -> str:
    return XML_ILLEGAL.sub("", text or "")


def one_line(text: str | None) -> str:
    return SPACES.sub(" ", clean_text(text)).strip()


def language_tag(text: str | None) -> str:
    tag = one_line(text)
    return tag if LANGUAGE_TAG.fullmatch(tag) else ""


def clean_html(fragment: str | None) -> str:
    """Sanitized again, with the URL policy on every URL attribute (nh3 alone checks
    only ``href`` and ``src``: a ``cite="javascript:..."`` would pass)."""
    return nh3.clean(
        clean_text(fragment),
        url_schemes=URL_SCHEMES,
        attribute_filter=lambda tag, attr, value: urls.safe_attribute(attr, value),
    )


def absolute_url(base: str, url: str | None) -> str:
    """``url`` resolved against ``base`` if it is http(s) after that; else ""."""
    resolved = urls.safe_absolute_url(one_line(url), base)
    if not resolved or urls.scheme_of(resolved) not in urls.WEB_SCHEMES:
        return ""
    return quote(resolved, safe=":/?#[]@!$&'()*+,;=%~")


def image_type(url: str) -> str:
    if not url:
        return ""
    extension = urlsplit(url).path.rsplit(".", 1)[-1].lower()
    return IMAGE_TYPES.get(extension, "image/jpeg")


def stable_id(article: Article, url: str, home_url: str) -> tuple[str, bool]:
    guid = one_line(article.guid)
    if guid and is_absolute_uri(guid):
        return guid, guid == url
    if not guid:  # no upstream id at all: the URL is the best stable key left
        return url, True
    host = urlsplit(home_url).hostname or "localhost"
    source = quote(one_line(article.source) or "source", safe="")
    return f"tag:{host},{TAG_DATE}:{source}/{quote(guid, safe='')}", False


def is_absolute_uri(text: str) -> bool:
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc) and " " not in text
    return parts.scheme in ("tag", "urn") and " " not in text


def item_dates(article: Article) -> tuple[datetime | None, datetime | None]:
    published = utc_seconds(article.published_at)
    updated = utc_seconds(article.updated_at)
    published = published or updated
    if updated is None or (published is not None and updated < published):
        updated = published
    return published, updated


def utc_seconds(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # the store gives aware times; a naive one is UTC by contract
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def feed_updated(items: Sequence[FeedItem]) -> datetime:
    """The newest item update: a feed's updated time, never "now"."""
    return max((item.updated for item in items if item.updated), default=EPOCH)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(value: datetime) -> str:
    """'Sat, 28 Nov 2026 06:00:00 +0000', whatever the process locale."""
    return format_datetime(value.astimezone(UTC))

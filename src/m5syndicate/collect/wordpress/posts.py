"""The `wordpress` source, pure parts: API addresses, pages of posts -> Articles.

Bytes in, articles out; paging and HTTP live in ``walk``; the cursor is here. WordPress
quirks handled here: ``title.rendered`` carries HTML entities (``&#8217;``, ``&amp;``);
``date_gmt``/``modified_gmt`` are UTC without a zone suffix, ``date``/``modified`` the
site's wall time (what WordPress compares ``after``/``modified_after`` with); terms and
the featured image come from ``_embedded`` (``wp:term``, ``wp:featuredmedia``); slugs of
Turkish names may be percent-encoded UTF-8; sites without pretty permalinks answer at
``?rest_route=`` instead of ``/wp-json/``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from m5syndicate.collect.clean import slugify
from m5syndicate.collect.language import payload_language
from m5syndicate.collect.parsed import Parsed, iso_utc
from m5syndicate.errors import ParseError
from m5syndicate.models import Article, Category

PER_PAGE = 100
LANGUAGES = ("tr", "en")
POSTS_ROUTE = "/wp/v2/posts"
API_LINK = re.compile(r"<([^>]*)>\s*;[^,]*rel\s*=\s*\"?https://api\.w\.org/\"?", re.I)
URL_FORMS = (
    "use the site root (https://site/), https://site/wp-json/, https://site/wp-json/wp/v2/ "
    "or https://site/?rest_route=/wp/v2/"
)


@dataclass(frozen=True)
class Api:
    """Where a site's REST API answers: ``https://site/wp-json/`` (pretty permalinks) or
    ``https://site/?rest_route=`` (plain ones); ``url`` builds a route's address."""

    base: str  # ends in /wp-json/, or the site URL that takes ?rest_route=
    plain: bool = False

    def url(self, route: str, params: dict[str, str] | None = None) -> str:
        query = urlencode(params or {})
        if self.plain:
            return f"{self.base}?{urlencode({'rest_route': route})}" + (
                f"&{query}" if query else ""
            )
        return self.base + route.lstrip("/") + (f"?{query}" if query else "")

    @property
    def root(self) -> str:
        """What the source's stored url says once the API is known: the wp/v2 root."""
        return self.url("/wp/v2/")


def api_from_url(url: str) -> Api | None:
    """The four forms people paste; None for a site root (or any page) that needs
    discovery through its ``Link: rel="https://api.w.org/"`` header."""
    parts = urlsplit(url)
    route = dict(parse_qsl(parts.query)).get("rest_route")
    if route is not None:
        return Api(urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")), True)
    path = parts.path
    at = path.find("/wp-json")
    if at < 0:
        return None
    base = urlunsplit((parts.scheme, parts.netloc, path[:at] + "/wp-json/", "", ""))
    return Api(base)


def api_from_link(header: str, page_url: str) -> Api | None:
    """The API root a WordPress page announces in its Link header, if it does."""
    found = API_LINK.search(header)
    return api_from_url(urljoin(page_url, found.group(1))) if found else None


def posts_endpoint(api_root: str) -> str:
    """'https://site/wp-json/wp/v2/' (any of the URL forms with an API) -> posts URL."""
    api = api_from_url(api_root)
    if api is None:
        raise ValueError(f"{api_root} is not a WordPress API address; {URL_FORMS}")
    return api.url(POSTS_ROUTE)


def api_root(posts_url: str) -> str:
    """The inverse of ``posts_endpoint``: what the source's url should say."""
    api = api_from_url(posts_url)
    return api.root if api else posts_url


@dataclass(frozen=True)
class PostKey:
    """What paging needs of one post: its id and its times (wall time and UTC)."""

    id: int
    date: str  # the site's wall time, as WordPress compares it: 2026-11-28T09:10:00
    modified: str
    date_gmt: datetime
    modified_gmt: datetime
    guid: str = ""

    def wall(self, field_name: str) -> str:
        return self.modified if field_name == "modified" else self.date

    def utc(self, field_name: str) -> datetime:
        return self.modified_gmt if field_name == "modified" else self.date_gmt

    def wall_at(self, moment: datetime) -> str:
        """``moment`` (UTC) as this site's wall time, by this post's own offset."""
        offset = datetime.fromisoformat(self.date) - self.date_gmt.replace(tzinfo=None)
        return wall_text(moment.replace(tzinfo=None) + offset)


@dataclass
class PostsPage:
    parsed: Parsed = field(default_factory=Parsed)
    article_ids: list[int | None] = field(default_factory=list)  # parallel to articles
    keys: list[PostKey] = field(default_factory=list)  # every post with an id and times
    count: int = 0  # posts in the answer, readable or not


AFTER_PARAMS = {"modified": "modified_after", "date": "after"}
ONE_SECOND = timedelta(seconds=1)


@dataclass
class Keyset:
    """Keyset paging on one time column ('modified' or 'date'), ascending, with no ties.

    WordPress offers no compound order, and page numbers over ``orderby=modified`` both
    overlap and skip when many posts share a second (a bulk re-save) or when a post is
    deleted mid-walk. So each request asks again from the newest second read so far
    (``after`` is exclusive and to the second: one second earlier includes it) and
    excludes the ids already read at exactly that second. Nothing is addressed by
    position, so a deletion shifts nothing, and a post edited mid-walk only moves later,
    where this walk or the next one reads it again. ``exclude`` holds only the ids of
    one second, a few dozen even in a bulk re-save.
    """

    column: str  # 'modified' or 'date'
    after: str = ""  # wall time; posts at or after it are asked for
    exclude: set[int] = field(default_factory=set)  # ids already read at ``after``

    def params(self) -> dict[str, str]:
        params = {"orderby": self.column, "order": "asc", "per_page": str(PER_PAGE)}
        if self.after:
            params[AFTER_PARAMS[self.column]] = wall_minus(self.after, ONE_SECOND)
        if self.exclude:
            params["exclude"] = ",".join(str(i) for i in sorted(self.exclude))
        return params

    def advance(self, keys: list[PostKey], where: str) -> None:
        if not keys:
            raise ParseError(
                f"collect: {where}: a full page without one readable post id and time; "
                "the walk cannot go on past it (check the site's REST API)"
            )
        newest = max(key.wall(self.column) for key in keys)
        if newest != self.after:
            self.after, self.exclude = newest, set()
        self.exclude |= {key.id for key in keys if key.wall(self.column) == newest}


@dataclass
class Cursor:
    """A source's saved progress, as JSON in its ``cursor`` column.

    ``modified`` and ``date`` are the site's wall times of the newest post read by each
    walk (WordPress compares its ``*_after`` parameters with wall time, so no time zone
    conversion can go wrong); ``reconciled`` is when the last full listing ran (UTC).
    """

    modified: str = ""
    date: str = ""
    reconciled: str = ""

    def dumps(self) -> str:
        return json.dumps({k: v for k, v in vars(self).items() if v}, sort_keys=True)

    @classmethod
    def loads(cls, text: str, site_zone: Any) -> Cursor:
        """Also reads the old form, a bare ``modified_gmt`` high-water mark."""
        text = text.strip()
        if not text:
            return cls()
        if not text.startswith("{"):
            return cls(modified=wall_text(iso_utc(text).astimezone(site_zone)))
        try:
            data = json.loads(text)
            return cls(**{k: str(v) for k, v in data.items() if k in vars(cls())})
        except (ValueError, AttributeError):
            return cls()  # unreadable: walk everything again, which misses nothing

    def reconcile_due(self, now: datetime, every: timedelta) -> bool:
        return not self.reconciled or iso_utc(self.reconciled) + every <= now


def wall_text(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def wall_minus(text: str, delta: timedelta) -> str:
    return wall_text(datetime.fromisoformat(text) - delta)


def load_list(body: bytes, where: str) -> list[Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(
            f"collect: {where} is not JSON ({exc}); is it WordPress? {URL_FORMS}"
        ) from exc
    if not isinstance(data, list):
        raise ParseError(f"collect: {where} is not a list of posts; is it WordPress? {URL_FORMS}")
    return data


def post_key(post: Any) -> PostKey | None:
    """None for a post without an id or readable times (it is named by ``parse_page``)."""
    try:
        date_gmt = iso_utc(post["date_gmt"])
        modified_gmt = iso_utc(post.get("modified_gmt") or post["date_gmt"])
        date = wall_text(datetime.fromisoformat(post["date"]))
        modified = wall_text(datetime.fromisoformat(post.get("modified") or post["date"]))
        return PostKey(int(post["id"]), date, modified, date_gmt, modified_gmt, guid_of(post))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def parse_page(body: bytes, where: str) -> PostsPage:
    """A page of posts: the articles, the posts skipped (named), and the paging keys."""
    data = load_list(body, where)
    page = PostsPage(count=len(data))
    for index, post in enumerate(data):
        key = post_key(post)
        if key is not None:
            page.keys.append(key)
        try:
            page.parsed.articles.append(parse_post(post))
            page.article_ids.append(key.id if key else None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            ident = post.get("id", f"#{index + 1}") if isinstance(post, dict) else f"#{index + 1}"
            page.parsed.skipped.append(f"{where}: post {ident}: {describe(exc)}")
    return page


def parse_listing(body: bytes, where: str) -> PostsPage:
    """A page of ``_fields=id,guid,link,date,date_gmt``: keys only (reconciliation)."""
    data = load_list(body, where)
    page = PostsPage(count=len(data))
    for post in data:
        if isinstance(post, dict):
            post = {**post, "modified": post.get("date"), "modified_gmt": post.get("date_gmt")}
        key = post_key(post)
        if key is None or not key.guid:
            raise ParseError(
                f"collect: {where}: a listed post has no id, guid or date; is it WordPress? "
                f"{URL_FORMS}"
            )
        page.keys.append(key)
    return page


def parse(body: bytes, base_url: str, content_type: str, now: datetime) -> Parsed:
    """The source type's parser signature: one page of posts from the REST API."""
    return parse_posts(body, base_url)


def parse_posts(body: bytes, where: str) -> Parsed:
    """A page of posts; a post that lacks what we need is skipped and named."""
    return parse_page(body, where).parsed


def parse_post(post: dict[str, Any]) -> Article:
    """One post; one that is not (or no longer) public is emitted withdrawn, so the
    store takes it out of feeds and editions instead of keeping the last public copy."""
    link = str(post["link"])
    published = iso_utc(post["date_gmt"])
    embedded = post.get("_embedded") or {}
    image_url, image_alt = featured_image(embedded)
    language = payload_language(post)  # Polylang / WPML fields, when the site has them
    return Article(
        guid=post_guid(post, link),
        url=link,
        title=str(post["title"]["rendered"]),
        content_html=str(post["content"]["rendered"]),
        summary=str((post.get("excerpt") or {}).get("rendered") or ""),
        language=language if language in LANGUAGES else "",
        published_at=published,
        updated_at=max(iso_utc(post.get("modified_gmt") or post["date_gmt"]), published),
        categories=terms(embedded, "category"),
        tags=terms(embedded, "post_tag"),
        status=post_status(post),
        author=author_name(embedded),
        image_url=image_url,
        image_alt=image_alt,
    )


def post_status(post: dict[str, Any]) -> str:
    """'withdrawn' for anything a reader may not see: trash, draft, private, pending,
    future (seen with an authenticated context=edit walk) or password-protected."""
    protected = (post.get("content") or {}).get("protected")
    return (
        "published"
        if post.get("status", "publish") == "publish" and not protected
        else ("withdrawn")
    )


def guid_of(post: dict[str, Any]) -> str:
    guid = post.get("guid")
    rendered = guid.get("rendered") if isinstance(guid, dict) else guid
    return html.unescape(str(rendered)) if rendered else ""


def post_guid(post: dict[str, Any], link: str) -> str:
    guid = guid_of(post)
    if guid:
        return guid
    if post.get("id") is not None:
        return urljoin(link, f"/?p={int(post['id'])}")
    return link


def terms(embedded: dict[str, Any], taxonomy: str) -> list[Category]:
    """The embedded terms of one taxonomy ('category' or 'post_tag'), by slug, in order.

    Chosen by each term's own ``taxonomy``, not by the group's position, which follows
    the order taxonomies were registered in."""
    found: dict[str, Category] = {}
    for group in embedded.get("wp:term") or []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and term.get("taxonomy") == taxonomy:
                name = html.unescape(str(term.get("name", ""))).strip()
                slug = slugify(unquote(str(term.get("slug") or ""))) or slugify(name)
                if slug:
                    found.setdefault(slug, Category(slug, name or slug))
    return list(found.values())


def featured_image(embedded: dict[str, Any]) -> tuple[str, str]:
    media = embedded.get("wp:featuredmedia") or []
    first = media[0] if media and isinstance(media[0], dict) else {}
    return str(first.get("source_url") or ""), html.unescape(str(first.get("alt_text") or ""))


def author_name(embedded: dict[str, Any]) -> str:
    authors = embedded.get("author") or []
    first = authors[0] if authors and isinstance(authors[0], dict) else {}
    return html.unescape(str(first.get("name") or ""))


def describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"has no {exc.args[0]}; skipped"
    return f"{exc}; skipped"

"""The `wordpress` source: one page of ``/wp-json/wp/v2/posts?_embed`` -> Articles.

Pure: bytes in, articles out; paging, cursors and HTTP live in ``readers``. WordPress
quirks handled here: ``title.rendered`` carries HTML entities (``&#8217;``, ``&amp;``);
``date_gmt``/``modified_gmt`` are UTC without a zone suffix; categories and the featured
image come from ``_embedded`` (``wp:term``, ``wp:featuredmedia``); slugs of Turkish
names may be percent-encoded UTF-8.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import unquote, urljoin

from m5syndicate.collect.clean import slugify
from m5syndicate.collect.parsed import Parsed, iso_utc
from m5syndicate.errors import ParseError
from m5syndicate.models import Article, Category

PER_PAGE = 100
LANGUAGES = ("tr", "en")


def posts_endpoint(api_root: str) -> str:
    """'https://site/wp-json/wp/v2/' (or the posts URL itself) -> the posts endpoint."""
    root = api_root.split("?", 1)[0]
    if root.rstrip("/").endswith("/posts"):
        return root.rstrip("/")
    return urljoin(root if root.endswith("/") else root + "/", "posts")


def api_root(posts_url: str) -> str:
    """The inverse of ``posts_endpoint``: what the source's url should say."""
    return posts_url.split("?", 1)[0].rstrip("/").removesuffix("/posts") + "/"


def parse_posts(body: bytes, where: str) -> Parsed:
    """A page of posts; a post that lacks what we need is skipped and named."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(
            f"collect: {where} is not JSON ({exc}); check that the source's url is the "
            "site's /wp-json/wp/v2/ root"
        ) from exc
    if not isinstance(data, list):
        raise ParseError(
            f"collect: {where} is not a list of posts; check that the source's url is the "
            "site's /wp-json/wp/v2/ root"
        )
    parsed = Parsed()
    for index, post in enumerate(data):
        try:
            parsed.articles.append(parse_post(post))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            ident = post.get("id", f"#{index + 1}") if isinstance(post, dict) else f"#{index + 1}"
            parsed.skipped.append(f"{where}: post {ident}: {describe(exc)}")
    return parsed


def parse_post(post: dict[str, Any]) -> Article:
    if post.get("content", {}).get("protected"):
        raise ValueError("it is password-protected")
    link = str(post["link"])
    published = iso_utc(post["date_gmt"])
    embedded = post.get("_embedded") or {}
    image_url, image_alt = featured_image(embedded)
    language = str(post.get("lang") or "")
    return Article(
        guid=post_guid(post, link),
        url=link,
        title=str(post["title"]["rendered"]),
        content_html=str(post["content"]["rendered"]),
        summary=str((post.get("excerpt") or {}).get("rendered") or ""),
        language=language if language in LANGUAGES else "",
        published_at=published,
        updated_at=max(iso_utc(post.get("modified_gmt") or post["date_gmt"]), published),
        categories=categories(embedded),
        author=author_name(embedded),
        image_url=image_url,
        image_alt=image_alt,
    )


def post_guid(post: dict[str, Any], link: str) -> str:
    guid = post.get("guid")
    rendered = guid.get("rendered") if isinstance(guid, dict) else guid
    if rendered:
        return html.unescape(str(rendered))
    if post.get("id") is not None:
        return urljoin(link, f"/?p={int(post['id'])}")
    return link


def categories(embedded: dict[str, Any]) -> list[Category]:
    found: dict[str, Category] = {}
    for group in embedded.get("wp:term") or []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and term.get("taxonomy") == "category":
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

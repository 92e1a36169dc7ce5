"""The `directory` source: local files, for the demo and for importing archives.

Formats:
- ``.md``: TOML front matter between ``+++`` lines (guid, title, url, published,
  updated, language, categories, author, image, image_alt), then a Markdown body.
- ``.html``: the same front matter, then an HTML body.
- ``.txt``: the same front matter, then plain text, paragraphs separated by blank lines
  (the way a scraper saves a page: theme lines such as "Abone Ol" are dropped by
  ``clean.finish`` like any other boilerplate).
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from m5syndicate.collect.clean import category_from_name
from m5syndicate.collect.parsed import Parsed
from m5syndicate.collect.reading import Page, ReadContext, describe
from m5syndicate.errors import ParseError
from m5syndicate.models import Article

SUFFIXES = (".md", ".html", ".txt")
# Without `language`, the source's, the category's or the text's decides (collect.language).
REQUIRED = ("title", "url", "published")


def read_directory(folder: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of every article file, in name order."""
    if not folder.is_dir():
        raise ParseError(f"collect: {folder} is not a folder; fix the source's url")
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    return [(p.name, p.read_bytes()) for p in files]


def parse_document(name: str, body: bytes) -> Article:
    """One file -> one uncleaned Article. Raises ParseError naming the file and the fix."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 ({exc.reason}); save it as UTF-8") from exc
    meta, content = split_front_matter(name, text)
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise ParseError(f"{name}: front matter lacks {', '.join(missing)}; add them")
    published = as_utc(name, "published", meta["published"])
    body_html = to_html(name, content)
    return Article(
        guid=str(meta.get("guid") or meta["url"]),
        url=str(meta["url"]),
        title=str(meta["title"]),
        content_html=body_html,
        summary=str(meta.get("summary", "")),
        language=str(meta.get("language") or ""),
        language_source="payload" if meta.get("language") else "",
        published_at=published,
        updated_at=as_utc(name, "updated", meta.get("updated", published)),
        categories=[category_from_name(str(c)) for c in meta.get("categories", [])],
        author=str(meta.get("author", "")),
        image_url=str(meta.get("image", "")),
        image_alt=str(meta.get("image_alt", "")),
    )


def to_html(name: str, content: str) -> str:
    if name.endswith(".html"):
        return content
    if name.endswith(".txt"):
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", content)]
        return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs if p)
    return MarkdownIt("commonmark").render(content)


def split_front_matter(name: str, text: str) -> tuple[dict[str, Any], str]:
    parts = text.lstrip("\ufeff").split("+++", 2)
    if len(parts) != 3 or parts[0].strip():
        raise ParseError(f"{name}: no front matter; start the file with a +++ ... +++ block")
    try:
        return tomllib.loads(parts[1]), parts[2].strip()
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"{name}: front matter is not valid TOML: {exc}") from exc


def as_utc(name: str, key: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise ParseError(f"{name}: {key} must be a date-time like 2026-11-27T06:10:00Z")


def parse(body: bytes, base_url: str, content_type: str, now: datetime) -> Parsed:
    """The source type's parser signature: one file, named by ``base_url``."""
    return Parsed([parse_document(base_url, body)])


async def read(ctx: ReadContext) -> AsyncIterator[Page]:
    page = Page()
    for name, body in read_directory(Path(ctx.state.url)):
        try:
            article = parse_document(name, body)
        except ParseError as exc:
            page.skipped.append(str(exc))
            continue
        # A file whose front matter has unexpected types fails alone, named by its file.
        except Exception as exc:
            page.skipped.append(f"{name}: {describe(exc)}; skipped")
            continue
        finished, failed = ctx.finish_each([article])
        page.articles += finished
        page.skipped += failed
    yield page

"""Article rows and their categories.

Identity: one row per upstream post, forever. An incoming article is matched by
(source, guid), then by canonical URL, then by content hash; a match is updated in
place, never duplicated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.models import Article, Category
from m5syndicate.store.engine import inserted_id
from m5syndicate.store.schema import article_categories, articles, categories, sources


@dataclass
class UpsertResult:
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0


def upsert_articles(
    conn: Connection, source_id: int, incoming: Iterable[Article], now: datetime
) -> UpsertResult:
    """Store each article once; update it in place when its content changed upstream."""
    items = list(incoming)
    index = load_index(conn, source_id, items)
    result = UpsertResult()
    category_ids: dict[str, int] = {}  # slug -> id, for this batch
    for article in items:
        existing = index.find(article)
        if existing is None:
            new_id = insert_article(conn, source_id, article, now, category_ids)
            index.add(
                article,
                Known(
                    new_id,
                    article.content_hash,
                    article.title,
                    article.published_at,
                    article.updated_at,
                ),
            )
            result.new.append(new_id)
        elif existing.content_hash != article.content_hash or existing.title != article.title:
            update_article(conn, existing, article, category_ids)
            result.updated.append(existing.id)
        else:
            result.unchanged += 1
    return result


@dataclass
class Known:
    """What matching needs of a stored article."""

    id: int
    content_hash: str
    title: str
    published_at: datetime
    updated_at: datetime


@dataclass
class MatchIndex:
    """The stored articles a batch may match: (source, guid), then URL, then content hash.
    Loaded in three queries per batch rather than three per article."""

    by_guid: dict[str, Known] = field(default_factory=dict)
    by_url: dict[str, Known] = field(default_factory=dict)
    by_hash: dict[str, Known] = field(default_factory=dict)

    def find(self, article: Article) -> Known | None:
        return (
            self.by_guid.get(article.guid)
            or self.by_url.get(article.url)
            or self.by_hash.get(article.content_hash)
        )

    def add(self, article: Article, known: Known) -> None:
        self.by_guid.setdefault(article.guid, known)
        self.by_url.setdefault(article.url, known)
        self.by_hash.setdefault(article.content_hash, known)


KNOWN_COLUMNS = (
    articles.c.id,
    articles.c.content_hash,
    articles.c.title,
    articles.c.published_at,
    articles.c.updated_at,
)


def load_index(conn: Connection, source_id: int, items: Sequence[Article]) -> MatchIndex:
    index = MatchIndex()
    probes = (
        (index.by_guid, articles.c.guid, {a.guid for a in items}, source_id),
        (index.by_url, articles.c.url, {a.url for a in items}, None),
        (index.by_hash, articles.c.content_hash, {a.content_hash for a in items}, None),
    )
    for target, column, values, only_source in probes:
        ordered = sorted(values)
        for start in range(0, len(ordered), 500):  # stay under bound-parameter limits
            query = select(*KNOWN_COLUMNS, column.label("key")).where(
                column.in_(ordered[start : start + 500])
            )
            if only_source is not None:
                query = query.where(articles.c.source_id == only_source)
            for row in conn.execute(query.order_by(articles.c.id)):
                target.setdefault(row.key, Known(*row[:5]))
    return index


def article_values(article: Article) -> dict[str, Any]:
    return {
        "url": article.url,
        "content_hash": article.content_hash,
        "title": article.title,
        "summary": article.summary,
        "content_html": article.content_html,
        "author": article.author,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "language": article.language,
        "published_at": article.published_at,
        "updated_at": article.updated_at,
    }


def insert_article(
    conn: Connection,
    source_id: int,
    article: Article,
    now: datetime,
    category_ids: dict[str, int] | None = None,
) -> int:
    values = article_values(article)
    statement = insert(articles).values(
        source_id=source_id, guid=article.guid, collected_at=now, offered=article.offered, **values
    )
    article_id = inserted_id(conn.execute(statement))
    link_categories(conn, article_id, article.categories, category_ids)
    return article_id


def update_article(
    conn: Connection,
    existing: Known,
    article: Article,
    category_ids: dict[str, int] | None = None,
) -> None:
    values = article_values(article)
    # Upstream may not bump its modified time on every edit; ours must still move.
    values["updated_at"] = max(article.updated_at, existing.updated_at)
    values["published_at"] = existing.published_at
    conn.execute(update(articles).where(articles.c.id == existing.id).values(**values))
    conn.execute(delete(article_categories).where(article_categories.c.article_id == existing.id))
    link_categories(conn, existing.id, article.categories, category_ids)


def link_categories(
    conn: Connection,
    article_id: int,
    cats: Sequence[Category],
    cache: dict[str, int] | None = None,
) -> None:
    cache = {} if cache is None else cache
    ids = set()
    for category in cats:
        if category.slug not in cache:
            cache[category.slug] = category_id(conn, category)
        ids.add(cache[category.slug])
    if ids:
        conn.execute(
            insert(article_categories),
            [{"article_id": article_id, "category_id": cid} for cid in sorted(ids)],
        )


def category_id(conn: Connection, category: Category) -> int:
    """The category's id, created if new. Two sources stored at once may both create it:
    ON CONFLICT DO NOTHING, then read what the winner wrote."""
    query = select(categories.c.id).where(categories.c.slug == category.slug)
    found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return int(found)
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(categories).values(slug=category.slug, name=category.name)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["slug"]))
    return int(conn.execute(query).scalar_one())


def known_urls(conn: Connection, urls: Sequence[str]) -> set[str]:
    """Which of these URLs are stored already (any source), as an article's canonical URL
    or as the address it was fetched from (its guid, for html sources)."""
    found: set[str] = set()
    for start in range(0, len(urls), 500):  # stay under bound-parameter limits
        chunk = list(urls[start : start + 500])
        for column in (articles.c.url, articles.c.guid):
            found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def list_categories(conn: Connection) -> list[Category]:
    rows = conn.execute(select(categories.c.slug, categories.c.name).order_by(categories.c.slug))
    return [Category(slug=row.slug, name=row.name) for row in rows]


def latest_articles(
    conn: Connection,
    limit: int,
    language: str | None = None,
    category: str | None = None,
) -> list[Article]:
    """Newest first; ties broken by id so the order never changes between runs."""
    query = select(articles, sources.c.name.label("source")).join(sources)
    rows = list(conn.execute(newest_first(query, limit, language, category)).mappings())
    return to_articles(conn, rows)


def newest_first(
    query: Select[Any], limit: int, language: str | None, category: str | None
) -> Select[Any]:
    """A feed's selection: its language and/or category, newest first, id tie-break."""
    if language:
        query = query.where(articles.c.language == language)
    if category:
        query = query.where(
            articles.c.id.in_(
                select(article_categories.c.article_id)
                .join(categories)
                .where(categories.c.slug == category)
            )
        )
    return query.order_by(articles.c.published_at.desc(), articles.c.id.desc()).limit(limit)


def to_articles(conn: Connection, rows: Sequence[RowMapping]) -> list[Article]:
    cats = categories_of(conn, [row.id for row in rows])
    return [
        Article(
            id=row.id,
            guid=row.guid,
            url=row.url,
            title=row.title,
            content_html=row.content_html,
            summary=row.summary,
            language=row.language,
            published_at=row.published_at,
            updated_at=row.updated_at,
            categories=cats.get(row.id, []),
            author=row.author,
            image_url=row.image_url,
            image_alt=row.image_alt,
            content_hash=row.content_hash,
            source=row.get("source", ""),
            offered=row.offered,
        )
        for row in rows
    ]


def categories_of(conn: Connection, article_ids: Sequence[int]) -> dict[int, list[Category]]:
    found: dict[int, list[Category]] = {}
    for start in range(0, len(article_ids), 500):  # stay under bound-parameter limits
        chunk = article_ids[start : start + 500]
        rows = conn.execute(
            select(article_categories.c.article_id, categories.c.slug, categories.c.name)
            .join(categories)
            .where(article_categories.c.article_id.in_(chunk))
            .order_by(article_categories.c.article_id, categories.c.slug)
        )
        for row in rows:
            found.setdefault(row.article_id, []).append(Category(row.slug, row.name))
    return found


def count_articles(conn: Connection) -> Counter[str]:
    """Articles per language."""
    rows = conn.execute(select(articles.c.language, func.count()).group_by(articles.c.language))
    return Counter({row[0]: int(row[1]) for row in rows})

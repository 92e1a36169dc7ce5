"""Article rows, their categories and tags.

Identity: one row per story, forever, across the sources of the site (store/identity.py).
Every write is an INSERT ... ON CONFLICT on ``identity`` (never read-then-write), so two
sources storing one story at once give one row. Before writing, a story this source
stored already under another key (its guid, or the same canonical URL from any source)
keeps that row's key: a best-effort alias; the database guarantees the rest.

Ownership: the source that first stored a row updates it; other sources' copies are
counted unchanged (two sources of one site that render a post differently would
otherwise update it back and forth). A `wordpress` source, the one that knows a post's
status, takes over rows a source of another type stored (``claims``).

Every change is an update: the fingerprint covers everything visible (URL, title, text,
summary, categories, tags, image, author, language, status). An update whose upstream
time did not move gets ``now`` as its update time, so feeds, editions and the instant
alert (which select by it) see it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, case, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection, RowMapping

from m5syndicate.models import Article, Category
from m5syndicate.store.dialect import insert_on_conflict
from m5syndicate.store.identity import fingerprint, identity_key
from m5syndicate.store.schema import (
    article_categories,
    article_tags,
    articles,
    categories,
    sources,
    tags,
)

PUBLISHED, WITHDRAWN = "published", "withdrawn"
CHUNK = 500  # stay under bound-parameter limits


@dataclass
class UpsertResult:
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)  # withdrawn and restored ones too
    unchanged: int = 0


@dataclass(frozen=True)
class Terms:
    """Categories or tags: the term table, the link table and its term column."""

    table: Table
    links: Table
    column: str


CATEGORY_TERMS = Terms(categories, article_categories, "category_id")
TAG_TERMS = Terms(tags, article_tags, "tag_id")


def upsert_articles(
    conn: Connection,
    source_id: int,
    incoming: Iterable[Article],
    now: datetime,
    *,
    claims: bool = False,
) -> UpsertResult:
    """Store each article once; update it in place when anything visible changed;
    withdraw it when it arrives withdrawn (a withdrawn story never stored is dropped)."""
    items = list(incoming)
    index = load_index(conn, source_id, items)
    result = UpsertResult()
    cache: dict[tuple[str, str], int] = {}  # (term table, slug) -> id, for this batch
    for article in items:
        key = index.key_for(article) or identity_key(article.guid, source_id)
        if claims:
            claim(conn, source_id, key, article.guid)
        if article.status == WITHDRAWN:
            withdrawn = withdraw(conn, source_id, key, now)
            if withdrawn is None:
                result.unchanged += 1
            else:
                result.updated.append(withdrawn)
            continue
        stored = store_article(conn, source_id, key, article, now)
        if stored is None:
            result.unchanged += 1
            continue
        article_id, revision = stored
        link_terms(conn, article_id, article, cache, replace=revision > 1)
        if revision == 1:
            result.new.append(article_id)
        elif article_id not in result.new and article_id not in result.updated:
            result.updated.append(article_id)
        index.add(article, key)
    return result


@dataclass
class MatchIndex:
    """Keys of stored rows a batch may match: by this source's guid, then by URL.
    Loaded in two queries per batch rather than two per article."""

    by_guid: dict[str, str] = field(default_factory=dict)
    by_url: dict[str, str] = field(default_factory=dict)

    def key_for(self, article: Article) -> str | None:
        return self.by_guid.get(article.guid) or self.by_url.get(article.url)

    def add(self, article: Article, key: str) -> None:
        self.by_guid.setdefault(article.guid, key)
        self.by_url.setdefault(article.url, key)


def load_index(conn: Connection, source_id: int, items: Sequence[Article]) -> MatchIndex:
    index = MatchIndex()
    probes = (
        (index.by_guid, articles.c.guid, {a.guid for a in items}, source_id),
        (index.by_url, articles.c.url, {a.url for a in items}, None),
    )
    for target, column, values, only_source in probes:
        ordered = sorted(values)
        for start in range(0, len(ordered), CHUNK):
            query = select(articles.c.identity, column.label("key")).where(
                column.in_(ordered[start : start + CHUNK])
            )
            if only_source is not None:
                query = query.where(articles.c.source_id == only_source)
            for row in conn.execute(query.order_by(articles.c.id)):
                target.setdefault(row.key, row.identity)
    return index


def article_values(article: Article) -> dict[str, Any]:
    """What an update rewrites (``published_at`` stays the first one seen)."""
    return {
        "url": article.url,
        "content_hash": article.content_hash,
        "fingerprint": fingerprint(article),
        "title": article.title,
        "summary": article.summary,
        "content_html": article.content_html,
        "author": article.author,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "language": article.language,
        "language_source": article.language_source,
    }


def store_article(
    conn: Connection, source_id: int, key: str, article: Article, now: datetime
) -> tuple[int, int] | None:
    """Insert, or update if this source owns the row and anything visible differs:
    (id, revision) of the row written (revision 1: new), or None if nothing changed."""
    values = article_values(article)
    statement = insert_on_conflict(conn, articles).values(
        source_id=source_id,
        guid=article.guid,
        identity=key,
        published_at=article.published_at,
        updated_at=article.updated_at,
        collected_at=now,
        offered=article.offered,
        revision=1,
        status=PUBLISHED,
        withdrawn_reason="",
        **values,
    )
    incoming = statement.excluded
    seen_now = literal(now, articles.c.updated_at.type)
    statement = statement.on_conflict_do_update(
        index_elements=["identity"],
        set_={
            **{name: incoming[name] for name in values},
            # Upstream may not bump its modified time on every edit; ours must move.
            "updated_at": case(
                (incoming.updated_at > articles.c.updated_at, incoming.updated_at),
                else_=seen_now,
            ),
            "revision": articles.c.revision + 1,
            "status": PUBLISHED,  # a withdrawn story that comes back is restored
            "withdrawn_at": None,
            "withdrawn_reason": "",
        },
        where=(articles.c.source_id == source_id)
        & (articles.c.fingerprint != incoming.fingerprint),
    ).returning(articles.c.id, articles.c.revision)
    row = conn.execute(statement).first()
    return None if row is None else (int(row.id), int(row.revision))


def claim(conn: Connection, source_id: int, key: str, guid: str) -> None:
    """A `wordpress` source takes over a row another type of source stored first."""
    others = select(sources.c.id).where(sources.c.type != "wordpress")
    conn.execute(
        update(articles)
        .where(
            articles.c.identity == key,
            articles.c.source_id != source_id,
            articles.c.source_id.in_(others),
        )
        .values(source_id=source_id, guid=guid)
    )


def withdraw(conn: Connection, source_id: int, key: str, now: datetime) -> int | None:
    """The owner says the story is no longer published: the id withdrawn, if it was."""
    statement = (
        update(articles)
        .where(
            articles.c.identity == key,
            articles.c.source_id == source_id,
            articles.c.status == PUBLISHED,
        )
        .values(withdrawn_values(now, "upstream"))
        .returning(articles.c.id)
    )
    found = conn.execute(statement).scalar_one_or_none()
    return None if found is None else int(found)


def withdrawn_values(now: datetime, reason: str) -> dict[str, Any]:
    # An empty fingerprint: the next published copy is an update that restores it.
    return {
        "status": WITHDRAWN,
        "withdrawn_at": now,
        "withdrawn_reason": reason,
        "fingerprint": "",
        "revision": articles.c.revision + 1,
    }


@dataclass
class Reconciled:
    withdrawn: list[int] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    note: str = ""  # why nothing was done, when something looked wrong


def reconcile(
    conn: Connection, source_id: int, present: frozenset[str], now: datetime
) -> Reconciled:
    """The upstream's complete list of guids: this source's stories missing from it are
    withdrawn; ones withdrawn for missing that are listed again are restored."""
    rows = conn.execute(
        select(
            articles.c.id, articles.c.guid, articles.c.status, articles.c.withdrawn_reason
        ).where(articles.c.source_id == source_id)
    ).all()
    done = Reconciled()
    if not present:
        if any(row.status == PUBLISHED for row in rows):
            done.note = (
                "reconcile: the upstream listed no posts at all; nothing withdrawn (if the "
                "site really has none, disable the source)"
            )
        return done
    done.withdrawn = [r.id for r in rows if r.status == PUBLISHED and r.guid not in present]
    done.restored = [
        r.id
        for r in rows
        if r.status == WITHDRAWN and r.withdrawn_reason == "missing" and r.guid in present
    ]
    set_status(conn, done.withdrawn, withdrawn_values(now, "missing"))
    restored = {
        "status": PUBLISHED,
        "withdrawn_at": None,
        "withdrawn_reason": "",
        "fingerprint": "",  # the next copy from upstream refreshes it
        "updated_at": now,
        "revision": articles.c.revision + 1,
    }
    set_status(conn, done.restored, restored)
    return done


def set_status(conn: Connection, ids: Sequence[int], values: dict[str, Any]) -> None:
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        conn.execute(update(articles).where(articles.c.id.in_(chunk)).values(values))


def link_terms(
    conn: Connection,
    article_id: int,
    article: Article,
    cache: dict[tuple[str, str], int],
    replace: bool,
) -> None:
    for terms, found in ((CATEGORY_TERMS, article.categories), (TAG_TERMS, article.tags)):
        link = terms.links
        if replace:
            conn.execute(delete(link).where(link.c.article_id == article_id))
        ids = set()
        for term in found:
            if (terms.table.name, term.slug) not in cache:
                cache[(terms.table.name, term.slug)] = term_id(conn, terms.table, term)
            ids.add(cache[(terms.table.name, term.slug)])
        if ids:
            conn.execute(
                insert(link),
                [{"article_id": article_id, terms.column: tid} for tid in sorted(ids)],
            )


def category_id(conn: Connection, category: Category) -> int:
    return term_id(conn, categories, category)


def term_id(conn: Connection, table: Table, term: Category) -> int:
    """The category's (or tag's) id, created if new. Two sources stored at once may both
    create it: ON CONFLICT DO NOTHING, then read what the winner wrote."""
    query = select(table.c.id).where(table.c.slug == term.slug)
    found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return int(found)
    statement = insert_on_conflict(conn, table).values(slug=term.slug, name=term.name)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["slug"]))
    return int(conn.execute(query).scalar_one())


def known_urls(conn: Connection, urls: Sequence[str]) -> set[str]:
    """Which of these URLs are stored already (any source), as an article's canonical URL
    or as the address it was fetched from (its guid, for html sources)."""
    found: set[str] = set()
    for start in range(0, len(urls), CHUNK):
        chunk = list(urls[start : start + CHUNK])
        for column in (articles.c.url, articles.c.guid):
            found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def wordpress_category_slugs(conn: Connection) -> set[str]:
    """The category slugs of articles a `wordpress` source stored: its REST API tells
    categories from tags, which a stock WordPress feed does not."""
    query = (
        select(categories.c.slug)
        .distinct()
        .join(article_categories, article_categories.c.category_id == categories.c.id)
        .join(articles, articles.c.id == article_categories.c.article_id)
        .join(sources, sources.c.id == articles.c.source_id)
        .where(sources.c.type == "wordpress")
    )
    return set(conn.execute(query).scalars())


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
    """A feed's selection: published articles of its language and/or category, newest
    first, id tie-break."""
    query = query.where(articles.c.status == PUBLISHED)
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
    ids = [row.id for row in rows]
    cats, found_tags = terms_of(conn, CATEGORY_TERMS, ids), terms_of(conn, TAG_TERMS, ids)
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
            tags=found_tags.get(row.id, []),
            author=row.author,
            image_url=row.image_url,
            image_alt=row.image_alt,
            content_hash=row.content_hash,
            source=row.get("source", ""),
            offered=row.offered,
            status=row.status,
            language_source=row.language_source,
        )
        for row in rows
    ]


def categories_of(conn: Connection, article_ids: Sequence[int]) -> dict[int, list[Category]]:
    return terms_of(conn, CATEGORY_TERMS, article_ids)


def terms_of(
    conn: Connection, terms: Terms, article_ids: Sequence[int]
) -> dict[int, list[Category]]:
    found: dict[int, list[Category]] = {}
    link, table = terms.links, terms.table
    for start in range(0, len(article_ids), CHUNK):
        chunk = article_ids[start : start + CHUNK]
        rows = conn.execute(
            select(link.c.article_id, table.c.slug, table.c.name)
            .join(table)
            .where(link.c.article_id.in_(chunk))
            .order_by(link.c.article_id, table.c.slug)
        )
        for row in rows:
            found.setdefault(row.article_id, []).append(Category(row.slug, row.name))
    return found


def count_articles(conn: Connection) -> Counter[str]:
    """Published articles per language."""
    rows = conn.execute(
        select(articles.c.language, func.count())
        .where(articles.c.status == PUBLISHED)
        .group_by(articles.c.language)
    )
    return Counter({row[0]: int(row[1]) for row in rows})

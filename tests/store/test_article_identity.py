"""One article per story across sources, every change an update, withdrawn and restored:
on SQLite and PostgreSQL, through the store's own functions."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m5syndicate.collect.clean import content_hash
from m5syndicate.config import SourceSettings
from m5syndicate.models import Article, Category
from m5syndicate.store import articles as store
from m5syndicate.store import editions as edition_store
from m5syndicate.store import feeds as feed_store
from m5syndicate.store import sources
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)
FEATURED = Category("one-cikan", "Öne Çıkan")
NAVAL = Category("deniz-sistemleri", "Deniz Sistemleri")
GUID = "https://m5.test/?p=7"


def source(engine: Engine, name: str = "wp", kind: str = "wordpress") -> int:
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name=name, type=kind, url=name)], NOW)
        found = sources.get_source(conn, name).id
    assert found is not None
    return found


def story(guid: str = GUID, **changes: Any) -> Article:
    when = NOW - timedelta(hours=1)
    base = Article(
        guid=guid,
        url="https://m5.test/korvet/",
        title="Korvet denizde",
        content_html="<p>Metin</p>",
        summary="Metin",
        language="tr",
        published_at=when,
        updated_at=when,
        categories=[NAVAL],
        author="Editör",
        image_url="https://m5.test/korvet.jpg",
        image_alt="Korvet",
    )
    made = dataclasses.replace(base, **changes)
    made.content_hash = content_hash(made.title, made.content_html)
    return made


def put(
    engine: Engine, sid: int, *items: Article, now: datetime = NOW, claims: bool = False
) -> store.UpsertResult:
    with engine.begin() as conn:
        return store.upsert_articles(conn, sid, items, now, claims=claims)


def shown(engine: Engine) -> list[Article]:
    with engine.connect() as conn:
        return store.latest_articles(conn, 100)


def candidates(engine: Engine) -> list[Article]:
    with engine.connect() as conn:
        since = NOW - timedelta(days=1)
        return edition_store.candidate_articles(conn, since, LATER, since)


CHANGES: dict[str, dict[str, Any]] = {
    "moved into a category": {"categories": [NAVAL, FEATURED]},
    "tagged": {"tags": [Category("korvet", "korvet")]},
    "new slug": {"url": "https://m5.test/korvet-yeni/"},
    "new featured image": {"image_url": "https://m5.test/yeni.jpg"},
    "new image text": {"image_alt": "Yeni korvet"},
    "new author": {"author": "Başka Editör"},
    "new excerpt": {"summary": "Yeni özet"},
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_every_visible_change_is_an_update(engine: Engine, change: str) -> None:
    sid = source(engine)
    (first,) = put(engine, sid, story()).new
    with engine.connect() as conn:
        marker = feed_store.feed_marker(conn, 10)
    # Title and text unchanged, and upstream did not move its modified time either.
    result = put(engine, sid, story(**CHANGES[change]), now=LATER)
    assert (result.new, result.updated, result.unchanged) == ([], [first], 0)
    (stored,) = shown(engine)
    for name, value in CHANGES[change].items():
        assert getattr(stored, name) == value
    assert stored.updated_at == LATER  # our time moves, so editions and alerts see it
    with engine.connect() as conn:
        assert feed_store.feed_marker(conn, 10) != marker  # the feeds rebuild
    assert [a.id for a in candidates(engine)] == [first]


def test_an_unchanged_copy_changes_nothing(engine: Engine) -> None:
    sid = source(engine)
    put(engine, sid, story())
    assert put(engine, sid, story(), now=LATER).unchanged == 1
    (stored,) = shown(engine)
    assert stored.updated_at == NOW - timedelta(hours=1)


def test_a_wordpress_and_a_feed_source_of_one_site_give_one_article(engine: Engine) -> None:
    feed, wp = source(engine, "rss", "feed"), source(engine, "wp")
    # The RSS feed turns tags into categories; the REST API keeps them apart.
    as_rss = story(categories=[NAVAL, Category("korvet", "korvet")])
    (first,) = put(engine, feed, as_rss).new
    as_rest = story(tags=[Category("korvet", "korvet")])
    assert put(engine, wp, as_rest, claims=True).updated == [first]
    assert put(engine, feed, as_rss, now=LATER).unchanged == 1  # the wordpress copy wins
    (stored,) = shown(engine)
    assert (stored.id, stored.source) == (first, "wp")
    assert [c.slug for c in stored.categories] == ["deniz-sistemleri"]
    assert [t.slug for t in stored.tags] == ["korvet"]
    with engine.connect() as conn:
        assert [c.slug for c in store.list_categories(conn)] == ["deniz-sistemleri", "korvet"]


def test_two_sources_storing_at_once_give_one_article(engine: Engine) -> None:
    wp, feed = source(engine), source(engine, "rss", "feed")
    first_wrote, results = threading.Event(), []

    def by_wordpress() -> None:
        with engine.begin() as conn:
            results.append(store.upsert_articles(conn, wp, [story()], NOW, claims=True))
            first_wrote.set()
            time.sleep(0.3)  # uncommitted: the other writer finds no row to read yet

    def by_feed() -> None:
        assert first_wrote.wait(10)
        with engine.begin() as conn:
            results.append(store.upsert_articles(conn, feed, [story(title="RSS")], NOW))

    threads = [threading.Thread(target=by_wordpress), threading.Thread(target=by_feed)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [len(r.new) for r in results] == [1, 0] and results[1].unchanged == 1
    assert [(a.title, a.source) for a in shown(engine)] == [("Korvet denizde", "wp")]


def test_withdrawn_is_out_of_feeds_and_new_editions_until_it_comes_back(
    engine: Engine,
) -> None:
    sid = source(engine)
    (first,) = put(engine, sid, story()).new
    other = story("https://m5.test/?p=8", url="https://m5.test/other/")
    put(engine, sid, other)
    trashed = story(status="withdrawn", categories=[])
    assert put(engine, sid, trashed, now=LATER).updated == [first]
    assert put(engine, sid, trashed, now=LATER).unchanged == 1  # once is enough
    assert [a.guid for a in shown(engine)] == [other.guid]
    assert [a.guid for a in candidates(engine)] == [other.guid]
    with engine.connect() as conn:
        assert store.count_articles(conn) == {"tr": 1}
    restored = put(engine, sid, story(), now=LATER)
    assert restored.updated == [first]
    assert {a.guid for a in shown(engine)} == {GUID, other.guid}
    assert GUID in {a.guid for a in candidates(engine)}


def test_a_withdrawn_story_never_stored_is_not_stored(engine: Engine) -> None:
    sid = source(engine)
    assert put(engine, sid, story(status="withdrawn")).unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM articles")).scalar() == 0


def reconcile(engine: Engine, sid: int, *guids: str) -> store.Reconciled:
    with engine.begin() as conn:
        return store.reconcile(conn, sid, frozenset(guids), LATER)


def test_the_upstream_list_withdraws_the_missing_and_restores_the_returning(
    engine: Engine,
) -> None:
    sid = source(engine)
    kept = story("https://m5.test/?p=8", url="https://m5.test/kept/")
    (gone, kept_id) = put(engine, sid, story(), kept).new
    done = reconcile(engine, sid, kept.guid)
    assert (done.withdrawn, done.restored) == ([gone], [])
    assert [a.guid for a in shown(engine)] == [kept.guid]
    again = reconcile(engine, sid, kept.guid, GUID)
    assert (again.withdrawn, again.restored) == ([], [gone])
    assert {a.id for a in shown(engine)} == {gone, kept_id}


def test_the_list_does_not_undo_an_upstream_withdrawal(engine: Engine) -> None:
    sid = source(engine)
    put(engine, sid, story())
    put(engine, sid, story(status="withdrawn"))  # e.g. password-protected: still listed
    assert reconcile(engine, sid, GUID).restored == []
    assert shown(engine) == []


def test_an_empty_upstream_list_withdraws_nothing_and_says_why(engine: Engine) -> None:
    sid = source(engine)
    put(engine, sid, story())
    done = reconcile(engine, sid)
    assert done.withdrawn == [] and "listed no posts" in done.note
    assert len(shown(engine)) == 1


def test_migration_merges_stories_stored_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            seed_revision_0002(conn)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, identity, fingerprint FROM articles ORDER BY id")
            ).all()
            editions = conn.execute(sa.text("SELECT article_id FROM edition_articles")).all()
            links = conn.execute(
                sa.text("SELECT article_id, category_id FROM article_categories ORDER BY 2")
            ).all()
    finally:
        engine.dispose()
    assert [(r.id, r.identity) for r in rows] == [(1, "//m5.test/?p=7"), (3, "source:1:tag-9")]
    assert all(len(r.fingerprint) == 64 for r in rows)
    assert [tuple(r) for r in editions] == [(1,)]  # the duplicate's edition row now the keeper's
    assert [tuple(r) for r in links] == [(1, 1), (1, 2)]  # categories of both


AT = "2026-11-28 06:00:00.000000"  # as text: both databases read it as a time
SEED = (
    "INSERT INTO sources (id, name, type, url, configured_url, etag, last_modified, cursor,"
    " last_error, error_count, created_at) VALUES (1, 'wp', 'wordpress', 'x', 'x', '', '',"
    " '', '', 0, :at), (2, 'rss', 'feed', 'y', 'y', '', '', '', '', 0, :at)",
    # Story p=7 stored by both sources (before 0003 only (source, guid) was unique).
    "INSERT INTO articles (id, source_id, guid, url, content_hash, title, summary,"
    " content_html, author, image_url, image_alt, language, published_at, updated_at,"
    " collected_at, offered) VALUES"
    " (1, 1, 'https://m5.test/?p=7', 'https://m5.test/1/', 'h', 't', '', '', '', '', '',"
    " 'tr', :at, :at, :at, TRUE),"
    " (2, 2, 'http://m5.test/?p=7', 'https://m5.test/2/', 'h', 't', '', '', '', '', '',"
    " 'tr', :at, :at, :at, TRUE),"
    " (3, 1, 'tag-9', 'https://m5.test/3/', 'h', 't', '', '', '', '', '', 'tr', :at, :at,"
    " :at, TRUE)",
    "INSERT INTO categories (id, slug, name) VALUES (1, 'a', 'A'), (2, 'b', 'B')",
    "INSERT INTO article_categories VALUES (1, 1), (2, 2)",
    "INSERT INTO editions (id, cadence, period_key, state, since, until, created_at)"
    " VALUES (1, 'daily', '2026-11-28', 'done', :at, :at, :at)",
    "INSERT INTO edition_articles VALUES (1, 2, 0)",
)


def seed_revision_0002(conn: sa.Connection) -> None:
    for statement in SEED:
        conn.execute(sa.text(statement), {"at": AT} if ":at" in statement else {})

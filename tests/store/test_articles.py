"""Article identity on both databases: one row per upstream post, updated in place."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from m5syndicate.collect.clean import content_hash
from m5syndicate.config import SourceSettings
from m5syndicate.models import Article, Category
from m5syndicate.store import articles as store
from m5syndicate.store import sources

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def article(
    guid: str = "g1",
    url: str = "https://m5.test/a/",
    title: str = "Başlık",
    body: str = "<p>Metin</p>",
    minutes_ago: int = 60,
) -> Article:
    when = NOW - timedelta(minutes=minutes_ago)
    return Article(
        guid=guid,
        url=url,
        title=title,
        content_html=body,
        summary="Metin",
        language="tr",
        published_at=when,
        updated_at=when,
        categories=[Category("one-cikan", "Öne Çıkan"), Category("deniz-sistemleri", "Deniz")],
        content_hash=content_hash(title, body),
    )


def source_id(engine: Engine, name: str = "wp") -> int:
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name=name, type="feed", url="x")], NOW)
        found = sources.get_source(conn, name).id
    assert found is not None
    return found


def upsert(engine: Engine, sid: int, *items: Article) -> store.UpsertResult:
    with engine.begin() as conn:
        return store.upsert_articles(conn, sid, items, NOW)


def test_new_then_unchanged(engine: Engine) -> None:
    sid = source_id(engine)
    assert len(upsert(engine, sid, article()).new) == 1
    again = upsert(engine, sid, article())
    assert (again.new, again.updated, again.unchanged) == ([], [], 1)


def test_edit_upstream_updates_in_place(engine: Engine) -> None:
    sid = source_id(engine)
    (first,) = upsert(engine, sid, article()).new
    edited = article(body="<p>Düzeltilmiş metin</p>")
    edited.updated_at = NOW
    result = upsert(engine, sid, edited)
    assert result.updated == [first] and not result.new
    with engine.connect() as conn:
        (stored,) = store.latest_articles(conn, 10)
    assert stored.content_html == "<p>Düzeltilmiş metin</p>"
    assert stored.updated_at == NOW
    assert stored.published_at == NOW - timedelta(minutes=60)


def test_same_guid_or_same_url_is_the_same_article(engine: Engine) -> None:
    sid = source_id(engine)
    (first,) = upsert(engine, sid, article(guid="https://m5.test/?p=1")).new
    moved_guid = article(guid="other-guid")  # same canonical URL
    assert upsert(engine, sid, moved_guid).unchanged == 1
    other_source = source_id(engine, "feed-copy")
    http_copy = article(guid="http://M5.test/?p=1#x", url="https://m5.test/elsewhere/")
    assert upsert(engine, other_source, http_copy).unchanged == 1
    with engine.connect() as conn:
        assert [a.id for a in store.latest_articles(conn, 10)] == [first]


def test_latest_filters_and_orders_deterministically(engine: Engine) -> None:
    sid = source_id(engine)
    tie_a = article("a", "https://m5.test/a/", minutes_ago=5)
    tie_b = article("b", "https://m5.test/b/", title="İkinci", minutes_ago=5)
    older = dataclasses.replace(
        article("c", "https://m5.test/c/", title="Eski", minutes_ago=90),
        categories=[Category("uzay", "Uzay")],
    )
    upsert(engine, sid, tie_a, tie_b, older)
    with engine.connect() as conn:
        everything = store.latest_articles(conn, 10, language="tr")
        space = store.latest_articles(conn, 10, category="uzay")
        assert [a.guid for a in everything] == ["b", "a", "c"]  # ties: newest id first
        assert [a.guid for a in space] == ["c"]
        assert {c.slug for c in everything[0].categories} == {"one-cikan", "deniz-sistemleri"}
        assert store.count_articles(conn) == {"tr": 3}
        assert [c.slug for c in store.list_categories(conn)] == [
            "deniz-sistemleri",
            "one-cikan",
            "uzay",
        ]


def test_source_failures_are_counted_and_cleared(engine: Engine) -> None:
    source_id(engine)
    with engine.begin() as conn:
        sources.record_failure(conn, "wp", NOW, "HTTP 500", NOW + timedelta(minutes=20))
        count = sources.record_failure(conn, "wp", NOW, "timeout", NOW + timedelta(minutes=40))
        assert count == 2
        state = sources.get_source(conn, "wp")
        assert (state.last_error, state.next_check_at) == ("timeout", NOW + timedelta(minutes=40))
        sources.record_success(conn, "wp", NOW, NOW + timedelta(minutes=10), etag='"v2"')
        state = sources.get_source(conn, "wp")
        assert (state.error_count, state.last_error, state.etag) == (0, "", '"v2"')
        assert state.last_success_at == NOW

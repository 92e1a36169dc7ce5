"""A stock WordPress feed does not tell categories from tags: the categories the site's
REST API named (a `wordpress` source's) decide, on both databases."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from m5syndicate.collect.refresh import known_categories
from m5syndicate.config import SourceSettings, load_settings
from m5syndicate.models import Category
from m5syndicate.store import articles as article_store
from m5syndicate.store import sources
from tests.digests import NOW, make_article

HAVA = Category("hava-sistemleri", "Hava Sistemleri")


def store_from(engine: Engine, source_type: str, category: Category) -> None:
    with engine.begin() as conn:
        source = SourceSettings(name=source_type, type=source_type, url="x")
        sources.sync_sources(conn, [source], NOW)
        source_id = sources.get_source(conn, source_type).id or 0
        article = make_article(f"{source_type}-1", categories=(category,))
        article_store.upsert_articles(conn, source_id, [article], NOW)


def test_without_a_wordpress_source_every_term_stays_a_category(engine: Engine) -> None:
    store_from(engine, "feed", Category("etiket", "Etiket"))
    assert known_categories(engine, load_settings(None, env={})) == frozenset()


def test_the_rest_apis_categories_and_the_configured_ones_are_known(engine: Engine) -> None:
    store_from(engine, "feed", Category("etiket", "Etiket"))  # a tag the feed called a term
    store_from(engine, "wordpress", HAVA)
    known = known_categories(engine, load_settings(None, env={}))
    assert known == {"hava-sistemleri", "defence-news", "one-cikan"}

"""Articles for the feed tests: the golden-file set and a hostile set."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from m5syndicate.config import FeedsSettings, Settings, SiteSettings, SourceSettings, load_settings
from m5syndicate.feeds.catalog import FeedMeta, FeedSpec
from m5syndicate.models import Article, Category
from m5syndicate.store import articles as articles_store
from m5syndicate.store import sources
from tests.conftest import REPO

FEEDS_DATA = REPO / "tests" / "data" / "feeds"
SITE = SiteSettings(public_url="https://feeds.example.org/")
HUB = "https://hub.example.org/"


def article_from(raw: dict[str, Any]) -> Article:
    values = dict(raw)
    values["categories"] = [Category(slug, name) for slug, name in raw["categories"]]
    for key in ("published_at", "updated_at"):
        values[key] = datetime.fromisoformat(raw[key])
    return Article(**values)


def sample_articles() -> list[Article]:
    raw = json.loads((FEEDS_DATA / "articles.json").read_text(encoding="utf-8"))
    return [article_from(item) for item in raw]


def meta(spec: FeedSpec | None = None, hub: str = HUB, full_content: bool = True) -> FeedMeta:
    spec = spec or FeedSpec("all-tr", "M5 Dergi (Türkçe)", "tr", None, "Her makale")
    return FeedMeta(
        spec=spec,
        public_url=SITE.public_url.rstrip("/"),
        home_url=SITE.url,
        site_title=SITE.title,
        hub=hub,
        full_content=full_content,
    )


def feeds_settings(**values: Any) -> FeedsSettings:
    return FeedsSettings(**values)


MB = 1024 * 1024
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def hostile_articles() -> list[Article]:
    """What a broken or malicious upstream could leave in a stored article."""
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    return [
        Article(
            guid="https://evil.example/?p=1",
            url="javascript:alert(1)",
            title="<script>alert('t')</script> Başlık\x00\x08\x1b\ufffe",
            content_html=(
                '<p onclick="steal()">ok</p><script>alert(1)</script><img src=x onerror=alert(2)>'
                '<a href="javascript:alert(3)">link</a><iframe src="https://evil.example/"></iframe>'
                "<style>body{display:none}</style>\x0c\x01"
            ),
            summary="Özet\x07 with ]]> and <b>tags</b>",
            language="tr",
            published_at=when,
            updated_at=when,
            categories=[Category("one-cikan", "Öne\x00 Çıkan")],
            author="Kötü\x1f Yazar <evil@example.org>",
            image_url="javascript:alert(4)",
        ),
        Article(
            guid="",
            url="https://www.m5dergi.com/tarihsiz/",
            title="",
            content_html="<p>Tarihsiz</p>",
            summary="",
            language="tr_TR",
            published_at=None,  # type: ignore[arg-type]
            updated_at=None,  # type: ignore[arg-type]
        ),
        Article(
            guid="https://www.m5dergi.com/?p=3",
            url="https://www.m5dergi.com/buyuk/",
            title="Bir megabayt",
            content_html="<p>" + "Çok uzun metin. " * (MB // 16) + "</p>",
            summary="Büyük",
            language="tr",
            published_at=when,
            updated_at=when,
        ),
        Article(
            guid="https://www.m5dergi.com/?p=4",
            url="https://www.m5dergi.com/ar/",
            title="صاروخ مضاد للسفن 🚀 עברית",
            content_html='<p dir="rtl">نص عربي 🚀🇹🇷 \u202eevil\u202c</p>',
            summary="نص 🚀",
            language="ar",
            published_at=datetime(2026, 11, 27, 12, 0),  # naive: UTC by contract
            updated_at=datetime(2026, 11, 27, 11, 0, tzinfo=UTC),  # before published
        ),
    ]


def store_articles(engine: Engine, articles: list[Article], source: str = "m5dergi") -> None:
    """Through the store's own upsert, as a collection would."""
    with engine.begin() as conn:
        sources.sync_sources(conn, [SourceSettings(name=source, type="feed", url="x")], NOW)
        source_id = sources.get_source(conn, source).id
        assert source_id is not None
        for article in articles:
            article.id = None
            body = f"{article.title}\n{article.content_html}".encode()
            article.content_hash = article.content_hash or hashlib.sha256(body).hexdigest()
        articles_store.upsert_articles(conn, source_id, articles, NOW)


def settings_for(engine: Engine, **feeds: Any) -> Settings:
    """The embedded defaults on this database, with [feeds] keys overridden."""
    env = {"M5_DATABASE__URL": engine.url.render_as_string(hide_password=False)}
    settings = load_settings(None, env=env)
    site = settings.site.with_changes(public_url=SITE.public_url)
    return settings.with_changes(site=site, feeds=settings.feeds.with_changes(**feeds))

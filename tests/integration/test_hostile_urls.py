"""The URL policy at both ends: a hostile feed collected over a real socket, then the
feeds built from the store, the digest mailed to a real outbox and the archive page
served over real HTTP hold no URL but http(s) (and mailto links); and the render side
drops unsafe URLs by itself, from a row stored without collect's cleaning."""

from __future__ import annotations

import email
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import Settings, SourceSettings
from m5syndicate.feeds.build import build_all
from m5syndicate.feeds.catalog import feed_catalog, feed_meta
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.models import Article
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.digests import NOW, add_subscribers, make_article, run_send, store_articles
from tests.digests import settings_for as digest_settings
from tests.integration.test_collect_wordpress import collect, stored
from tests.servers import UvicornThread
from tests.upstream import Resource, Upstream

HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(2)",
    "  javascript:alert(3)",
    "\x01javascript:alert(4)",
    "java\tscript:alert(5)",
    "&#106;avascript:alert(6)",
    "&#x6A;avascript:alert(7)",
    "vbscript:msgbox(8)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(10)</script>",
]
# A scheme we refuse, wherever it hides: attributes, feed elements, JSON strings.
UNSAFE = re.compile(r"(java\s*script|vbscript|data)\s*:", re.I)
PUB_DATE = "Sat, 28 Nov 2026 04:00:00 GMT"  # two hours before NOW: in today's edition


def hostile_body(index: int, bad: str) -> str:
    """Every URL attribute of the body made unsafe (entity-escaped once, as in a feed)."""
    quoted = html.escape(bad)
    return (
        f'<p>Gövde metni {index}, <a href="{quoted}">bağlantı</a> ve '
        f'<a href="mailto:haber@m5.test">posta</a>.</p>'
        f'<blockquote cite="{quoted}"><p>Alıntı</p></blockquote><q cite="{quoted}">kısa</q>'
        f'<img src="{quoted}" srcset="{quoted} 1x, /ok-{index}.jpg 2x" alt="foto">'
        f'<video poster="{quoted}" src="{quoted}"></video>'
        f'<p><a href="/haber-{index}/devam/">Devamı</a></p>'
    )


def hostile_item(index: int, bad: str) -> str:
    # An entity-encoded URL is written as it is: XML decodes "&#106;" to "j" itself.
    escaped = bad if bad.startswith("&#") else html.escape(bad)
    return f"""<item>
    <title>Haber {index}</title>
    <link>{escaped}</link>
    <guid isPermaLink="true">https://m5.test/haber-{index}/</guid>
    <pubDate>{PUB_DATE}</pubDate>
    <category>Deniz Sistemleri</category>
    <description>{html.escape(f'Özet {index} <a href="{escaped}">tık</a>')}</description>
    <content:encoded>{html.escape(hostile_body(index, bad))}</content:encoded>
    <enclosure url="{escaped}" type="image/jpeg" length="0"/>
    <media:content url="{escaped}" medium="image"/>
  </item>"""


def hostile_feed() -> bytes:
    items = "\n  ".join(hostile_item(index, bad) for index, bad in enumerate(HOSTILE))
    # No safe link and no guid that is one: this item cannot be stored, and says why.
    nowhere = f"""<item><title>Hiçbir yer</title><link>javascript:alert(0)</link>
    <guid isPermaLink="false">javascript:void(0)</guid><pubDate>{PUB_DATE}</pubDate>
    <description>Bağlantısız</description></item>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Düşman akış</title><link>https://m5.test/</link><language>tr</language>
  {items}
  {nowhere}
</channel></rss>""".encode()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    with server.running():
        yield server


def site_settings(engine: Engine, tmp_path: Path, *sources: SourceSettings) -> Settings:
    settings = digest_settings(engine.url.render_as_string(hide_password=False), tmp_path)
    return settings.with_changes(sources=sources)


def feeds_of(articles: list[Article], settings: Settings) -> dict[str, str]:
    built = {}
    for spec in feed_catalog(settings.feeds, settings.site):
        meta = feed_meta(spec, settings.feeds, settings.site)
        for fmt, body in build_all(articles, meta).items():
            built[f"{spec.name}.{fmt}"] = body.decode("utf-8")
    return built


def mail_texts(outbox: Path) -> list[str]:
    """Every text and HTML part of every mail in the Maildir, decoded."""
    texts = []
    for path in sorted(outbox.rglob("*")):
        if path.is_file() and path.parent.name in ("new", "cur"):
            message: Message = email.message_from_bytes(path.read_bytes())
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    texts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return texts


def unsafe_in(text: str) -> list[str]:
    """Unsafe schemes in ``text`` as a browser or feed reader would decode it."""
    decoded = html.unescape(html.unescape(text))
    return UNSAFE.findall(decoded)


def archive_page(settings: Settings, slug: str) -> httpx.Response:
    runtime = Runtime(settings)
    try:
        with UvicornThread(create_app(runtime)) as server:
            return httpx.get(f"{server.url}/archive/{slug}?lang=tr")
    finally:
        runtime.close()


def test_a_hostile_feed_leaves_no_unsafe_url_in_feeds_mail_or_archive(
    engine: Engine, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.pages["/feed/"] = Resource(hostile_feed(), "application/rss+xml")
    source = SourceSettings(name="rss", type="feed", url=upstream.base_url + "/feed/")
    settings = site_settings(engine, tmp_path, source)
    (report,) = collect(engine, settings, NOW)
    articles = stored(engine)
    assert len(articles) == len(HOSTILE) and not report.failed
    assert any("javascript:void(0)" in skip for skip in report.item_errors)
    for article in articles:
        assert article.url.startswith("https://m5.test/haber-")  # the guid, not the link
        assert article.image_url == ""
        assert 'href="mailto:haber@m5.test"' in article.content_html
        assert not unsafe_in(article.content_html + article.summary)

    built = feeds_of(articles, settings)
    assert all(not unsafe_in(body) for body in built.values()), "unsafe URL in a feed"
    assert "/haber-3/devam/" in built["all-tr.atom"]  # relative links stay, absolute

    add_subscribers(engine, 1)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    mails = mail_texts(tmp_path / "outbox")
    assert mails and all(not unsafe_in(text) for text in mails), "unsafe URL in a digest"
    assert any("https://m5.test/haber-0/" in text for text in mails)

    page = archive_page(settings, "daily-2026-11-28")
    assert page.status_code == 200 and "Haber 0" in page.text
    assert not unsafe_in(page.text), "unsafe URL in the archive page"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_rendering_drops_unsafe_urls_stored_without_cleaning(
    engine: Engine, tmp_path: Path
) -> None:
    """Defence in depth: a row written around collect (an old version, a bad import)."""
    raw = make_article("ham", hours_ago=1)
    raw.url = "javascript:alert('url')"
    raw.image_url = " JaVaScRiPt:alert('image')"
    raw.content_html = (
        '<p>Metin</p><q cite="javascript:alert(1)">alıntı</q>'
        '<img src="/ok.jpg" srcset="vbscript:x 1x, https://m5.test/iki.jpg 2x">'
        '<a href="data:text/html,x">veri</a>'
    )
    store_articles(engine, [raw, make_article("temiz", hours_ago=1)], NOW - timedelta(hours=1))
    settings = site_settings(engine, tmp_path)
    articles = stored(engine)

    built = feeds_of(articles, settings)
    assert all(not unsafe_in(body) for body in built.values())
    assert "alıntı" in built["all-tr.json"]  # the quote stays, without its cite

    add_subscribers(engine, 1)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    mails = mail_texts(tmp_path / "outbox")
    assert mails and all(not unsafe_in(text) for text in mails)
    assert any("Haber ham" in text for text in mails)  # shown, without its link

    page = archive_page(settings, "daily-2026-11-28")
    assert page.status_code == 200 and "Haber ham" in page.text
    assert not unsafe_in(page.text)

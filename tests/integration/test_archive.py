"""The web archive over real HTTP: every sent edition, as the mail showed it."""

from __future__ import annotations

import dataclasses
from html import escape
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.digests import (
    DEFENCE_NEWS,
    POSTAL_ADDRESS,
    add_subscribers,
    make_article,
    run_send,
    settings_for,
    store_articles,
)
from tests.servers import UvicornThread


def test_archive_lists_and_shows_sent_editions(engine: Engine, tmp_path: Path) -> None:
    store_articles(
        engine,
        [
            make_article("korvet", title="Korvet <testte>"),
            make_article("radar", language="en", categories=[DEFENCE_NEWS]),
        ],
    )
    add_subscribers(engine, 1)
    settings = settings_for(engine.url.render_as_string(hide_password=False), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    runtime = Runtime(settings)
    try:
        with UvicornThread(create_app(runtime)) as server:
            index = httpx.get(f"{server.url}/archive/")
            page = httpx.get(f"{server.url}/archive/daily-2026-11-28?lang=tr")
            english = httpx.get(f"{server.url}/archive/daily-2026-11-28?lang=en")
            missing = httpx.get(f"{server.url}/archive/daily-1999-01-01")
    finally:
        runtime.close()
    assert index.status_code == 200 and 'href="/archive/daily-2026-11-28?lang=tr"' in index.text
    assert page.status_code == 200 and "Korvet &lt;testte&gt;" in page.text
    assert "/unsubscribe/" not in page.text and "abone olun</a>" in page.text
    assert english.status_code == 200 and "Haber radar" in english.text
    assert missing.status_code == 404
    for shown in (page, english):  # the sender's postal address, as in the mail's footer
        assert f"M5 Dergi · {escape(POSTAL_ADDRESS)}</div>" in shown.text


def test_an_article_withdrawn_since_sending_is_marked_with_nothing_of_it_shown(
    engine: Engine, tmp_path: Path
) -> None:
    kept, pulled = make_article("korvet"), make_article("gizli", title="Gizli haber")
    store_articles(engine, [kept, pulled])
    add_subscribers(engine, 1)
    settings = settings_for(engine.url.render_as_string(hide_password=False), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    withdrawn = dataclasses.replace(pulled, status="withdrawn")
    assert store_articles(engine, [withdrawn])  # an update: it was published before
    runtime = Runtime(settings)
    try:
        with UvicornThread(create_app(runtime)) as server:
            page = httpx.get(f"{server.url}/archive/daily-2026-11-28?lang=tr")
    finally:
        runtime.close()
    assert page.status_code == 200 and "Haber korvet" in page.text
    assert "yayından kaldırıldı" in page.text
    assert "Gizli haber" not in page.text and "https://m5.test/gizli/" not in page.text
    assert "Özet gizli" not in page.text and "gizli.jpg" not in page.text

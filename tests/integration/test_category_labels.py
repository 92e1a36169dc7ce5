"""Categories as the site names them, in the reader's language (`[feeds] category_names`,
else the site's own name): in the digests a real send writes, and on the archive pages."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from tests.digests import (
    BREAKING,
    DEFENCE_NEWS,
    NAVAL,
    add_subscribers,
    make_article,
    store_articles,
)
from tests.integration.test_clicks import send_edition, texts
from tests.web_support import running_site

NAMES = "one-cikan:tr=Öne Çıkan,one-cikan:en=Featured,deniz-sistemleri:tr=Denizcilik"


def body_of(page: str) -> str:
    return page.split("<body", 1)[1]


def test_digests_and_archive_pages_label_categories_in_the_readers_language(
    engine: Engine, tmp_path: Path
) -> None:
    store_articles(
        engine,
        [
            make_article("korvet", categories=[NAVAL, BREAKING], hours_ago=2),
            make_article("expo", language="en", categories=[DEFENCE_NEWS, BREAKING]),
        ],
    )
    add_subscribers(engine, 1, prefix="okur")
    add_subscribers(engine, 1, prefix="reader", language="en")
    with running_site(engine, tmp_path, M5_FEEDS__CATEGORY_NAMES=NAMES) as site:
        send_edition(site)
        mails = {str(m["To"]).split("@")[0]: texts(m) for m in site.wait_for_mails(2)}
        assert "Defence News, Featured" in mails["reader0"]
        assert "Öne Çıkan" not in mails["reader0"]
        # The configured name wins over the site's ("Deniz Sistemleri").
        assert "Denizcilik, Öne Çıkan" in mails["okur0"]
        assert "Deniz Sistemleri" not in mails["okur0"]

        # The body: the head's feed links keep each feed's own title.
        english = body_of(httpx.get(f"{site.url}/archive/daily-2026-11-28?lang=en").text)
        assert "Defence News, Featured" in english and "Öne Çıkan" not in english
        turkish = body_of(httpx.get(f"{site.url}/archive/daily-2026-11-28?lang=tr").text)
        assert "Denizcilik, Öne Çıkan" in turkish
        # The archive is a web page, not a mail: its links lead straight to the articles.
        assert "/r/" not in english + turkish and "https://m5.test/expo/" in english

"""Digest messages against golden .eml files, and the checks every message must pass.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (then read the
diff). The only volatile part, the MIME boundary, is normalised.
"""

from __future__ import annotations

import email
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage

import pytest

from m5syndicate.config import Settings, load_settings
from m5syndicate.digest.compose import Composer
from m5syndicate.digest.editions import select_articles
from m5syndicate.digest.render import SLOTS, render_mail
from m5syndicate.digest.templates import email_environment
from m5syndicate.errors import RenderError
from m5syndicate.mail.message import prepare_body, qp
from m5syndicate.models import Article, Edition, Recipient
from m5syndicate.subscribers.links import UNSUBSCRIBE, LinkSigner, verify_token
from tests.conftest import REPO
from tests.digests import BREAKING, DEFENCE_NEWS, NAVAL, NOW, SECRET, make_article

GOLDEN = REPO / "tests" / "data" / "email"
SETTINGS = load_settings(
    path=None,
    env={},
    overrides={
        "site": {"public_url": "https://bulten.m5.test"},
        "newsletter": {
            "from": "M5 Dergi Bülten <bulten@m5.test>",
            "max_articles": 3,
            "postal_address": "Örnek Sok. 1, 06000 Ankara, Türkiye",
        },
    },
)
LONG = "Savunma sanayiinde İstanbul'da ışıklı, ılık bir gün; Iğdır'da kış. " * 6


def articles() -> list[Article]:
    made = [
        make_article("korvet", categories=[NAVAL, BREAKING], hours_ago=1),
        make_article("uydu", hours_ago=2),
        make_article("radar", language="en", categories=[DEFENCE_NEWS], hours_ago=3),
        make_article("tank", hours_ago=4),
        make_article("iha", hours_ago=5),
        # In "one-cikan" too: the English digest labels it "Featured" ([feeds] category_names).
        make_article("expo", language="en", categories=[DEFENCE_NEWS, BREAKING], hours_ago=6),
    ]
    return [replace(a, id=index, summary=LONG) for index, a in enumerate(made, start=1)]


def edition(cadence: str = "daily", key: str = "2026-11-28") -> Edition:
    return Edition(cadence, key, NOW - timedelta(days=1), NOW, "sending", articles(), id=7)


def recipient(
    language: str = "tr", fmt: str = "html", categories: tuple[str, ...] = ()
) -> Recipient:
    return Recipient(41, 1234, "okur@m5.test", language, fmt, "confirmed", 3, categories)


def compose(
    case: Edition, who: Recipient, delivered: dict[int, str] | None = None, s: Settings = SETTINGS
) -> bytes:
    composer = Composer(
        email_environment(),
        case,
        s.site,
        s.newsletter,
        LinkSigner(s.site.public_url, SECRET, count_clicks=s.tracking.clicks),
        datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        category_names=s.feeds.category_labels,
    )
    selection = select_articles(case, who, delivered or {}, s.newsletter)
    assert not isinstance(selection, str)
    envelope, _ = composer.compose(who, selection)
    return envelope.data


def normalise(data: bytes) -> bytes:
    return re.sub(rb"=_m5_[0-9a-f]{32}", b"=_m5_BOUNDARY", data)


CASES = {
    "daily-tr-html": lambda: compose(edition(), recipient()),
    "daily-en-html": lambda: compose(edition(), recipient("en")),
    "weekly-en-text": lambda: compose(edition("weekly", "2026-W48"), recipient("en", "text")),
    "instant-tr-html-updated": lambda: compose(
        edition("instant", "20261127T060000Z"),
        recipient(categories=("one-cikan",)),
        delivered={1: "an older hash"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden_file(case: str) -> None:
    data = normalise(CASES[case]())
    path = GOLDEN / f"{case}.eml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{case} changed; rerun with UPDATE_GOLDEN=1 if intended"


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


CASE_SLUGS = {
    "daily-tr-html": "daily-2026-11-28",
    "daily-en-html": "daily-2026-11-28",
    "weekly-en-text": "weekly-2026-W48",
    "instant-tr-html-updated": "instant-20261127T060000Z",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_message_rules(case: str) -> None:
    data = CASES[case]()
    assert data.isascii()  # 7-bit clean
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) < 998
    _head, _, body = data.partition(b"\r\n\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable
    message = parse(data)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert message[name], name
    assert message["Message-ID"].endswith("@m5.test>")
    assert message["To"] == "okur@m5.test"  # the address, nothing a subscriber typed
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(
        r"<(https://bulten\.m5\.test/unsubscribe/([^>]+))>, "
        r"<mailto:unsubscribe\+([^@>]+)@m5\.test>",
        message["List-Unsubscribe"],
    )
    assert unsubscribe is not None, message["List-Unsubscribe"]
    assert verify_token(unsubscribe.group(2), UNSUBSCRIBE, SECRET) == (1234, 3)
    assert unsubscribe.group(3) == unsubscribe.group(2)  # the mailbox reads the same token
    assert (
        message["Feedback-ID"] == f"{CASE_SLUGS[case]}:{CASE_SLUGS[case].split('-')[0]}:digest:m5"
    )
    parts = [message] if not message.is_multipart() else list(message.iter_parts())
    assert next(p.get_content_type() for p in parts) == "text/plain"
    for part in parts:
        content = part.get_content()
        assert unsubscribe.group(1) in content  # visible in every part
        assert "/preferences/" in content
        assert "Örnek Sok. 1, 06000 Ankara, Türkiye" in content  # the postal address
        assert not any(slot in content for slot in SLOTS)
    if message.is_multipart():
        html = parts[1].get_content()
        assert len(html.encode("utf-8")) < 90_000
        assert len(data) < 100_000


def html_of(data: bytes) -> str:
    part = parse(data).get_body(("html",))
    assert part is not None
    return str(part.get_content())


def text_of(data: bytes) -> str:
    part = parse(data).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_html_is_built_for_mail_clients() -> None:
    html = html_of(CASES["daily-tr-html"]())
    container = re.search(r'<table class="container"[^>]*>', html)
    assert container and 'width="600"' in container.group(0)
    assert 'role="presentation"' in container.group(0)
    assert re.search(r'<h2 class="headline" style="[^"]+"', html)  # CSS inlined
    assert "prefers-color-scheme: dark" in html  # dark-mode rules kept in <style>
    images = re.findall(r"<img [^>]+>", html)
    assert images and all('alt="Görsel ' in i and 'width="552"' in i for i in images)
    assert 'height="310"' in images[0]
    assert "display:none" in html.split("<table", 1)[0]  # the preheader
    assert "Haber korvet ve 2 haber daha" in html  # preheader text


def test_turkish_text_and_dates_are_untouched_and_localized() -> None:
    text = text_of(CASES["daily-tr-html"]())
    assert "İstanbul'da ışıklı, ılık bir gün; Iğdır'da kış." in text
    assert "28 Kasım 2026 Cumartesi" in text  # the edition, in Istanbul's day
    assert "28 Kasım 2026 · Deniz Sistemleri, Öne Çıkan" in text
    english = text_of(CASES["daily-en-html"]())
    assert "Saturday, November 28, 2026" in english and "Haber radar" in english
    assert "Haber korvet" not in english  # their language only


def test_more_link_and_updated_mark() -> None:
    text = text_of(CASES["daily-tr-html"]())
    # Four Turkish articles, max_articles 3: the newest three, and a link to the rest.
    assert "Haber iha" not in text and "Bu sayıdaki 1 haber daha sitede:" in text
    assert "https://bulten.m5.test/archive/daily-2026-11-28?lang=tr" in text
    instant = parse(CASES["instant-tr-html-updated"]())
    assert instant["Subject"] == "Son dakika: Haber korvet"
    assert "Haber korvet [Güncellendi]" in text_of(CASES["instant-tr-html-updated"]())


def test_filled_slots_equal_a_full_encoding() -> None:
    """Substituting into the pre-encoded body gives what encoding the filled text gives."""
    mail = render_mail(
        email_environment(),
        "digest",
        "tr",
        {
            "site_title": "M5",
            "site_url": "https://m5.test",
            "public_url": "https://m5.test",
            "edition": {"cadence": "daily", "slug": "daily-x", "date_text": "bugün"},
            "articles": [],
            "more": 0,
            "more_url": "https://m5.test/m",
            "archive_url": "https://m5.test/a",
            "unsubscribe_url": SLOTS[0],
            "preferences_url": SLOTS[1],
            "postal_address": "",
        },
        html=False,
    )
    values = {SLOTS[0]: "https://m5.test/unsubscribe/" + "x" * 90, SLOTS[1]: "https://m5.test/p"}
    body = prepare_body(mail.text, None, SLOTS).render(values)
    filled = mail.text
    for slot, value in values.items():
        filled = filled.replace(slot, value)
    assert body.split(b"\r\n\r\n", 1)[1] == qp(filled)


def test_every_article_field_is_escaped_in_html() -> None:
    hostile = replace(articles()[0], title='<script>alert("x")</script>', id=1)
    case = Edition("daily", "k", NOW, NOW, "sending", [hostile], id=1)
    html = html_of(compose(case, recipient()))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_digest_gmail_would_clip_is_refused_with_the_fix() -> None:
    many = [
        replace(make_article(f"haber-{n}", hours_ago=1 + n / 100), id=n, summary=LONG)
        for n in range(1, 201)
    ]
    case = Edition("daily", "2026-11-28", NOW - timedelta(days=1), NOW, "sending", many, id=7)
    roomy = SETTINGS.with_changes(newsletter=SETTINGS.newsletter.with_changes(max_articles=200))
    with pytest.raises(RenderError, match=r"over 90000 bytes of HTML.*lower \[newsletter\] max_"):
        compose(case, recipient(), s=roomy)
    assert compose(case, recipient("tr", "text"), s=roomy)  # text has no clip: it goes

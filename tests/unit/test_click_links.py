"""Click links: signed per (edition, article), the same for every reader, verified by
the redirect; which requests count as a reader's click; category labels in digests."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest
from itsdangerous import Signer
from starlette.datastructures import Headers

from m5syndicate.digest.render import article_view, category_label
from m5syndicate.models import Category
from m5syndicate.subscribers.links import LinkSigner, verify_click
from m5syndicate.web.clicks import counts
from tests.digests import BREAKING, DEFENCE_NEWS, NAVAL, SECRET, make_article
from tests.unit.test_render import CASES, SETTINGS, compose, edition, recipient

CLICK = re.compile(r"https://bulten\.m5\.test/r/(\d+)/(\d+)/([A-Za-z0-9_-]+)")
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def test_a_click_link_is_signed_for_its_edition_and_article_only() -> None:
    link = LinkSigner("https://m5.test/", SECRET, count_clicks=True).article_link(
        7, 3, "https://x/"
    )
    match = re.fullmatch(r"https://m5\.test/r/7/3/([A-Za-z0-9_-]+)", link)
    assert match, link
    signature = match.group(1)
    assert verify_click(7, 3, signature, SECRET)
    assert not verify_click(7, 4, signature, SECRET)  # another article
    assert not verify_click(8, 3, signature, SECRET)  # another edition
    assert not verify_click(7, 3, signature, SECRET + "-other")  # another key
    assert not verify_click(7, 3, signature, "")  # no key: nothing is ours
    for forged in ("", "x", signature[:-1], signature + "A", "ş" * 43, "!!!!"):
        assert not verify_click(7, 3, forged, SECRET), forged


def test_the_signature_is_itsdangerous_hmac_sha256_with_a_click_salt() -> None:
    link = LinkSigner("https://m5.test", SECRET, count_clicks=True).article_link(12, 34, "u")
    expected = Signer(SECRET, salt="click", digest_method=hashlib.sha256).get_signature("12/34")
    assert link.rsplit("/", 1)[1] == expected.decode()
    # Not the unsubscribe key's signature under another name: purposes do not mix.
    assert expected != Signer(SECRET, salt="unsubscribe").get_signature("12/34")


def test_without_counting_or_without_a_url_the_link_is_the_articles_own() -> None:
    assert LinkSigner("https://m5.test", SECRET).article_link(7, 3, "https://a/") == "https://a/"
    counting = LinkSigner("https://m5.test", SECRET, count_clicks=True)
    assert counting.article_link(7, 3, "") == ""  # an unsafe or withdrawn URL: no link
    assert counting.article_link(None, 3, "https://a/") == "https://a/"  # not stored yet


def test_every_article_link_in_a_digest_is_its_click_link_and_names_nobody() -> None:
    case = edition()
    first = compose(case, recipient()).replace(b"=\r\n", b"").decode("ascii")
    other = replace(recipient(), subscriber_id=99, email="baska@m5.test", token_version=5)
    second = compose(case, other).replace(b"=\r\n", b"").decode("ascii")
    links = {m.group(0) for m in CLICK.finditer(first)}
    assert links == {m.group(0) for m in CLICK.finditer(second)}  # the same for every reader
    assert len(links) == 3  # the three articles shown, none more
    for found in CLICK.finditer(first):
        assert int(found.group(1)) == case.id
        assert verify_click(int(found.group(1)), int(found.group(2)), found.group(3), SECRET)
    assert "https://m5.test/korvet/" not in first  # no article link left around it
    assert "https://m5.test/img/korvet.jpg" in first  # images load from their own site


def test_with_clicks_off_digests_link_the_articles_directly() -> None:
    off = SETTINGS.with_changes(tracking=SETTINGS.tracking.with_changes(clicks=False))
    data = compose(edition(), recipient(), s=off).replace(b"=\r\n", b"").decode("ascii")
    assert not CLICK.search(data) and "/r/" not in data
    assert "https://m5.test/korvet/" in data


@pytest.mark.parametrize(
    ("method", "headers", "tracking", "state", "expected"),
    [
        ("GET", {"user-agent": BROWSER}, True, "done", True),
        ("GET", {"user-agent": BROWSER}, True, "sending", True),
        ("GET", {"user-agent": BROWSER}, True, "held", True),
        ("HEAD", {"user-agent": BROWSER}, True, "done", False),
        ("GET", {"user-agent": BROWSER}, False, "done", False),  # [tracking] clicks off
        ("GET", {"user-agent": BROWSER}, True, "open", False),  # not sent: a preview
        ("GET", {"user-agent": BROWSER, "sec-purpose": "prefetch"}, True, "done", False),
        ("GET", {"user-agent": BROWSER, "purpose": "prefetch"}, True, "done", False),
        ("GET", {"user-agent": BROWSER, "x-purpose": "preview"}, True, "done", False),
        ("GET", {}, True, "done", False),  # no User-Agent at all
        (
            "GET",
            {"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"},
            True,
            "done",
            False,
        ),
        ("GET", {"user-agent": "Slackbot-LinkExpanding 1.0"}, True, "done", False),
        ("GET", {"user-agent": "facebookexternalhit/1.1"}, True, "done", False),
        ("GET", {"user-agent": "curl/8.5.0"}, True, "done", False),
        ("GET", {"user-agent": "python-httpx/0.28.1"}, True, "done", False),
        ("GET", {"user-agent": "Mozilla/5.0 HeadlessChrome/120.0"}, True, "done", False),
    ],
)
def test_what_counts_as_a_readers_click(
    method: str, headers: dict[str, str], tracking: bool, state: str, expected: bool
) -> None:
    assert counts(method, Headers(headers), tracking, state) is expected


def test_categories_are_labelled_in_the_readers_language() -> None:
    names = SETTINGS.feeds.category_labels
    assert category_label(BREAKING, "en", names) == "Featured"
    assert category_label(BREAKING, "tr", names) == "Öne Çıkan"
    assert category_label(NAVAL, "en", names) == "Deniz Sistemleri"  # no name set: the site's
    assert category_label(Category("one-cikan", "one-cikan"), "tr", names) == "Öne Çıkan"
    article = make_article("x", language="en", categories=[DEFENCE_NEWS, BREAKING])
    view = article_view(article, "en", "Europe/Istanbul", False, names)
    assert view.categories == ["Defence News", "Featured"]
    assert article_view(article, "en", "UTC", False).categories == ["Defence News", "Öne Çıkan"]


def test_the_english_digest_says_featured() -> None:
    text = CASES["daily-en-html"]().replace(b"=\r\n", b"").decode("ascii")
    assert "Defence News, Featured" in text and "=C3=96ne" not in text

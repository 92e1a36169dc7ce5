"""Property-based: no fragment makes any public cleaning function raise (issue 11, item 4),
and what comes out is safe and keeps the fragment's words."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m5syndicate.collect import clean, embeds, urls
from m5syndicate.collect.language import LanguageRules
from m5syndicate.models import Article, Category

BOILERPLATE = ["Abone Ol", "Related Articles", "İlgili Makaleler", "Back to top button"]
TAGS = ["p", "div", "a", "img", "html", "body", "head", "title", "script", "style", "iframe"]
TAGS += ["video", "object", "embed", "figure", "figcaption", "table", "td", "svg", "math", "q"]
TAGS += ["noscript", "button", "span", "br", "li", "ul", "blockquote", "frameset", "template"]
ATTRIBUTES = ["href", "src", "srcset", "cite", "poster", "data-src", "class", "title", "style"]
VALUES = [*urls.WEB_SCHEMES, "javascript:alert(1)", " JaVaScRiPt:x", "&#106;avascript:x", "/a.jpg"]
VALUES += ["data:text/html,x", "https://www.youtube.com/embed/abcDEF12345", "wp-block-embed", ""]

words = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "Cc"]), max_size=20
)
attribute = st.builds(
    lambda name, value, quote: f" {name}={quote}{value}{quote}",
    st.sampled_from(ATTRIBUTES),
    st.sampled_from(VALUES),
    st.sampled_from(['"', "'", ""]),
)
open_tag = st.builds(
    lambda tag, attrs: f"<{tag}{''.join(attrs)}>",
    st.sampled_from(TAGS),
    st.lists(attribute, max_size=3),
)
close_tag = st.builds(lambda tag: f"</{tag}>", st.sampled_from(TAGS))
oddities = st.sampled_from(
    [
        "<!-- Ad Inserter: block 1 -->",
        "<!--",
        "-->",
        "<?php echo 1; ?>",
        "<?xml version='1.0'?>",
        "<![CDATA[ x ]]>",
        "<!DOCTYPE html>",
        "<html></html>",
        "<",
        ">",
        "&",
        "&#0;",
        "&#xD800;",
        "\x00",
        "\ud800",
        '[m5_reklam id="3"]',
        "[/x]",
        "[caption]",
        "Abone Ol",
        "Related Articles",
    ]
)
fragments = st.lists(st.one_of(words, open_tag, close_tag, oddities), max_size=30).map("".join)
EVERY_EXAMPLE = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def article(fragment: str) -> Article:
    when = datetime(2026, 11, 28, tzinfo=UTC)
    return Article(
        guid="https://m5.test/?p=1",
        url=fragment[:40] or "https://m5.test/a/",
        title=fragment,
        content_html=fragment,
        summary=fragment,
        language="",
        published_at=when,
        updated_at=when,
        categories=[Category("defence-news", "Defence News")],
        image_url=fragment[:60],
    )


@EVERY_EXAMPLE
@given(fragments)
def test_no_public_cleaning_function_raises(fragment: str) -> None:
    prepared = clean.prepare(fragment, BOILERPLATE)
    cleaned = clean.sanitize(prepared, "https://m5.test/yazi/")
    clean.sanitize(fragment, "")
    clean.plain_text(fragment)
    clean.summarize(fragment)
    clean.summary_text(fragment)
    clean.drop_shortcodes(fragment)
    clean.slugify(fragment)
    clean.category_from_name(fragment)
    clean.canonical_url(fragment)
    clean.content_hash(fragment, cleaned)
    clean.normalize(fragment)
    clean.largest_candidate(fragment)
    root = clean.parse_fragment(fragment)
    if root is not None:
        clean.serialize_children(root)
        embeds.replace_embeds(root)
    urls.safe_url(fragment, "https://m5.test/")
    urls.safe_srcset(fragment)
    finished = clean.finish(article(fragment), "https://m5.test/", BOILERPLATE, LanguageRules())
    assert finished.url.startswith("https://m5.test/")  # the guid, when the link is junk
    assert finished.language in ("tr", "en")


def unsafe_attributes(cleaned: str) -> list[str]:
    """URL attributes of the cleaned markup whose scheme the policy refuses."""
    root = clean.parse_fragment(cleaned)
    assert root is not None
    return [
        f"{name}={value}"
        for element in root.iter()
        for name, value in element.attrib.items()
        if (name in urls.URL_ATTRIBUTES or name in urls.SRCSET_ATTRIBUTES)
        and urls.scheme_of(value) not in ("", *urls.LINK_SCHEMES)
    ]


@EVERY_EXAMPLE
@given(fragments)
def test_cleaned_html_has_no_comment_script_or_unsafe_url(fragment: str) -> None:
    cleaned = clean.sanitize(clean.prepare(fragment, BOILERPLATE), "https://m5.test/")
    assert "<!--" not in cleaned and "<script" not in cleaned.lower()
    assert not unsafe_attributes(cleaned), cleaned


prose = st.lists(
    st.text(alphabet="abcçdefgğhıijklmnoöprsştuüvyz", min_size=2, max_size=9),
    min_size=1,
    max_size=15,
)


@EVERY_EXAMPLE
@given(prose, st.lists(oddities, max_size=4))
def test_the_words_of_a_fragment_survive_its_comments_and_instructions(
    text: list[str], noise: list[str]
) -> None:
    """Losing nothing good: markup noise around a paragraph never costs its words."""
    fragment = "".join(noise[:2]) + "<p>" + " ".join(text) + "</p>" + "".join(noise[2:])
    fragment = fragment.replace("<!--", "").replace("-->", "")  # a lone one hides the rest
    kept = clean.plain_text(clean.sanitize(clean.prepare(fragment, []), "https://m5.test/"))
    for word in text:
        assert word in kept

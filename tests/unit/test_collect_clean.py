"""Cleaning rules shared by every source (golden files cover whole articles)."""

from __future__ import annotations

import pytest

from m5syndicate.collect import clean
from m5syndicate.collect.encoding import decode

BOILERPLATE = ["Abone Ol", "Related Articles", "İlgili Makaleler", "Back to top button"]
LONG = "Bu paragraf makalenin kendisidir ve on iki kelimeden daha uzun bir metin içerir."


def test_theme_phrases_and_the_tail_after_them_are_dropped() -> None:
    fragment = (
        f"<p>Abone Ol</p><p>{LONG}</p><p>abone   ol</p><p>{LONG} İkinci.</p>"
        "<p>Abone Ol</p><h3>Related Articles</h3>"
        '<ul><li><a href="/a/">A linked headline that is rather long indeed, ten words</a>'
        "</li></ul>"
        "<p>Back to top button</p>"
    )
    kept = clean.prepare(fragment, BOILERPLATE)
    assert kept.count("<p>") == 2 and "İkinci." in kept
    for phrase in ("Abone Ol", "abone", "Related", "Back to top", "linked headline"):
        assert phrase not in kept


def test_a_phrase_before_article_text_does_not_cut_the_article() -> None:
    fragment = f"<p>Related Articles</p><p>{LONG}</p>"
    assert clean.prepare(fragment, BOILERPLATE) == f"<p>{LONG}</p>"


def test_boilerplate_is_configurable() -> None:
    fragment = f"<p>{LONG}</p><p>Paylaş</p>"
    assert "Paylaş" in clean.prepare(fragment, BOILERPLATE)
    assert "Paylaş" not in clean.prepare(fragment, ["Paylaş"])


@pytest.mark.parametrize(
    ("img", "src"),
    [
        ('<img data-src="/a.jpg" src="data:image/gif;base64,R0l">', "https://m5.test/a.jpg"),
        ('<img data-lazy-src="a.jpg">', "https://m5.test/yazi/a.jpg"),
        ('<img srcset="s.jpg 300w, l.jpg 1024w, m.jpg 640w">', "https://m5.test/yazi/l.jpg"),
        ('<img data-srcset="s.jpg 1x, l.jpg 2x" src="">', "https://m5.test/yazi/l.jpg"),
        ('<img src="/real.jpg" srcset="other.jpg 2x">', "https://m5.test/real.jpg"),
    ],
)
def test_lazy_images_get_an_absolute_src(img: str, src: str) -> None:
    cleaned = clean.sanitize(clean.prepare(f"<p>{img}</p>", []), "https://m5.test/yazi/")
    assert f'src="{src}"' in cleaned
    assert "srcset" not in cleaned and "data-" not in cleaned


def test_placeholder_only_images_and_noscript_duplicates_go() -> None:
    fragment = (
        '<img src="data:image/gif;base64,R0l"><img data-src="/a.jpg">'
        '<noscript><img src="/a.jpg"></noscript>'
    )
    cleaned = clean.sanitize(clean.prepare(fragment, []), "https://m5.test/")
    assert cleaned.count("<img") == 1


@pytest.mark.parametrize(
    "dirty",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<img src="x" onerror="alert(1)">',
        '<svg onload="alert(1)"><script>alert(1)</script></svg>',
        '<p style="x" onclick="alert(1)">x</p>',
        '<iframe src="https://evil.example/"></iframe>',
        "<style>body{}</style><script>alert(1)</script>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    ],
)
def test_sanitizer_leaves_nothing_executable(dirty: str) -> None:
    cleaned = clean.sanitize(clean.prepare(dirty, []), "https://m5.test/").lower()
    for bad in ("javascript:", "data:", "onerror", "onload", "onclick", "<script", "<svg"):
        assert bad not in cleaned
    assert "<iframe" not in cleaned and "<style" not in cleaned and "alert" not in cleaned


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://M5.test/a/?utm_source=x&utm_medium=rss#comments", "https://m5.test/a/"),
        ("https://m5.test/a/?p=5&fbclid=abc&gclid=d", "https://m5.test/a/?p=5"),
        ("https://m5.test/ara/?q=%C3%A7elik", "https://m5.test/ara/?q=%C3%A7elik"),
    ],
)
def test_canonical_urls_lose_tracking_parameters(url: str, canonical: str) -> None:
    assert clean.canonical_url(url) == canonical


def test_summary_cuts_at_a_word_and_drops_wordpress_ellipsis() -> None:
    assert clean.summarize("<p>Kısa özet [&hellip;]</p>") == "Kısa özet…"
    long = clean.summarize("<p>" + "savunma " * 60 + "</p>", limit=40)
    assert long == "savunma savunma savunma savunma savunma…"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("“Çelik” İstanbul’da ığş".encode("cp1254"), "text/html; charset=ISO-8859-9"),
        ("“Çelik” İstanbul’da ığş".encode("cp1254"), "text/html; charset=windows-1254"),
        ('<meta charset="iso-8859-9">“Çelik” İstanbul’da ığş'.encode("cp1254"), "text/html"),
        ("“Çelik” İstanbul’da ığş".encode("cp1254"), ""),  # undeclared, not UTF-8
        ("“Çelik” İstanbul’da ığş".encode(), "text/html"),
    ],
)
def test_turkish_encodings_are_decoded_as_browsers_do(body: bytes, content_type: str) -> None:
    assert decode(body, content_type).endswith("“Çelik” İstanbul’da ığş")


NINE_WORDS = "Tatbikat bugün Konya'da başladı ve üç gün sürecek."
YOUTUBE = (
    '<figure class="wp-block-embed is-type-video wp-block-embed-youtube">'
    '<div class="wp-block-embed__wrapper"><iframe title="Tatbikat videosu" '
    'src="https://www.youtube.com/embed/abcDEF12345?feature=oembed"></iframe></div></figure>'
)


def cleaned(fragment: str, boilerplate: list[str] = BOILERPLATE) -> str:
    return clean.sanitize(clean.prepare(fragment, boilerplate), "https://m5.test/yazi/")


def test_a_short_post_keeps_its_sentence_and_video_after_a_button() -> None:
    """The post stored empty in issue 11: a button, a 9-word sentence and a video."""
    kept = cleaned(f"<p><a href='/abone/'>Abone Ol</a></p><p>{NINE_WORDS}</p>{YOUTUBE}")
    assert NINE_WORDS in kept.replace("&#39;", "'") and "Abone Ol" not in kept
    assert '<a href="https://www.youtube.com/watch?v=abcDEF12345"' in kept
    assert "Tatbikat videosu" in kept


def test_the_tail_rule_still_cuts_after_real_text() -> None:
    kept = cleaned(f"<p>{NINE_WORDS}</p><p>Abone Ol</p><ul><li><a href='/x/'>Başka</a></li></ul>")
    assert "Başka" not in kept and "Konya" in kept


@pytest.mark.parametrize(
    ("player", "link", "title"),
    [
        (
            '<iframe src="https://www.youtube-nocookie.com/embed/abcDEF12345" title="Atış">'
            "</iframe>",
            "https://www.youtube.com/watch?v=abcDEF12345",
            "Atış",
        ),
        (
            '<iframe src="https://player.vimeo.com/video/123456?h=1" title="Uçuş"></iframe>',
            "https://vimeo.com/123456",
            "Uçuş",
        ),
        (
            '<figure class="wp-block-embed wp-block-embed-youtube"><div class="wp-block-embed__'
            'wrapper">https://youtu.be/abcDEF12345</div><figcaption>Deniz</figcaption></figure>',
            "https://www.youtube.com/watch?v=abcDEF12345",
            "Deniz",
        ),
    ],
)
def test_embedded_videos_become_links_with_their_title(player: str, link: str, title: str) -> None:
    kept = cleaned(f"<p>{LONG}</p>{player}")
    assert f'<a href="{link}" rel="noopener noreferrer">{title}</a>' in kept
    assert "iframe" not in kept


def test_a_video_with_a_poster_keeps_the_poster_as_the_link_image() -> None:
    kept = cleaned('<video src="/v.mp4" poster="/p.jpg" title="Gece atışı"></video>')
    assert '<a href="https://m5.test/v.mp4"' in kept
    assert '<img src="https://m5.test/p.jpg" alt="Gece atışı">Gece atışı</a>' in kept


def test_other_iframes_are_dropped_not_linked() -> None:
    assert "evil" not in cleaned('<iframe src="https://evil.example/"></iframe><p>x</p>')


def test_unknown_shortcodes_go_and_bracketed_prose_stays() -> None:
    kept = cleaned(
        '<p>Reklam[m5_reklam id="3"] [/x][gallery ids="1,2"] [sic] [1] [caption]Y[/caption]</p>'
    )
    assert kept == "<p>Reklam  [sic] [1] Y</p>"


def test_summary_is_the_cleaned_body_not_wordpress_automatic_excerpt() -> None:
    body = (
        "<p>Abone Ol</p><figure><img src='/a.jpg'><figcaption>Foto: Arşiv</figcaption></figure>"
        f"<p>{LONG}</p>"
    )
    summary = clean.clean_summary(
        "Abone Ol Foto: Arşiv Bu paragraf [&hellip;]", cleaned(body), BOILERPLATE, ""
    )
    assert summary == LONG


def test_a_written_excerpt_is_kept_but_cleaned() -> None:
    excerpt = '<p>Kısa ve öz. [m5_reklam id="3"]</p><p>Abone Ol</p>'
    assert clean.clean_summary(excerpt, f"<p>{LONG}</p>", BOILERPLATE, "") == "Kısa ve öz."

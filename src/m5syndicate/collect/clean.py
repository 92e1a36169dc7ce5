"""Cleaning shared by every source type: resolve lazy images, turn embeds into links,
drop shortcodes and theme boilerplate, sanitize (allowlist, URL policy), make URLs
absolute, strip tracking parameters, summarise, decide the language, hash.

Pure functions: text in, text out, and none of them raises on any markup: comments,
processing instructions, CDATA, whole documents, empty or broken HTML are all read the
way a browser would, or passed on to the sanitizer unchanged when lxml cannot read them.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import nh3
from lxml import etree
from lxml import html as lxml_html

from m5syndicate.collect import embeds, language, urls
from m5syndicate.collect.language import LanguageRules
from m5syndicate.models import Article, Category

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
URL_SCHEMES = set(urls.LINK_SCHEMES)
TURKISH_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâîû", "cgiosuCGIOSUaiu")


def sanitize(fragment: str, base_url: str) -> str:
    """Allowlist HTML; every URL attribute under the URL policy (``collect.urls``) and
    made absolute against ``base_url``."""
    return nh3.clean(
        XML_UNSAFE.sub("", fragment),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=lambda tag, attr, value: urls.safe_attribute(attr, value, base_url),
    )


XML_UNSAFE = embeds.XML_UNSAFE
# A WordPress shortcode left in the text: "[m5_reklam id="3"]", "[/x]", "[gallery]".
# Bracketed prose ("[sic]", "[1]", "[…]") is not one: a bare name needs a _ or -, or to
# be one WordPress ships, else an attribute (name=...) or a closing slash.
SHORTCODE = re.compile(
    r"\[/[a-zA-Z][\w-]*\s*\]"
    r"|\[[a-zA-Z][\w-]*\s+[\w-]+\s*=[^\[\]]*\]"
    r"|\[(?:[a-zA-Z][a-zA-Z0-9]*[_-][\w-]*|caption|gallery|embed|video|audio|playlist)"
    r"(?:\s[^\[\]]*)?/?\]"
)


def drop_shortcodes(text: str) -> str:
    return SHORTCODE.sub("", text)


BLOCK_TAG = re.compile(
    r"</?(p|div|h[1-6]|li|ul|ol|blockquote|figure|figcaption|table|tr|td|th|br|hr)\b[^>]*>", re.I
)


def plain_text(fragment: str) -> str:
    text = BLOCK_TAG.sub(" ", re.sub(r"<!--.*?(-->|$)", "", fragment, flags=re.S))
    text = re.sub(r"<[^>]+>", "", text)
    text = XML_UNSAFE.sub("", drop_shortcodes(html.unescape(text)))
    return re.sub(r"\s+", " ", text).strip()


# What a summary never shows: captions, embeds' titles, figures, tables, code.
NOT_SUMMARY = ("figure", "figcaption", "caption", "table", "pre", "button", "script", "style")
WORDPRESS_MORE = re.compile(r"\s*\[(…|\.\.\.|&hellip;|&#8230;)\]\s*$")


def summary_text(fragment: str) -> str:
    """The reading text of an HTML fragment: captions, figures and tables left out."""
    root = parse_fragment(fragment)
    if root is None:
        return plain_text(fragment)
    for element in list(root.iter(*NOT_SUMMARY)):
        if element.getparent() is not None:
            element.drop_tree()
    return plain_text(serialize_children(root))


def summarize(fragment: str, limit: int = 280) -> str:
    """Plain text cut at a word boundary, with an ellipsis when cut."""
    text = re.sub(r"\s*\[(…|\.\.\.)\]$", "…", plain_text(fragment))  # WordPress's "[…]"
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:.-–—")
    return cut + "…"


def slugify(name: str) -> str:
    """'Öne Çıkan' -> 'one-cikan', as WordPress makes Turkish slugs."""
    ascii_name = unicodedata.normalize("NFKD", name.translate(TURKISH_ASCII))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def category_from_name(name: str, slug: str = "") -> Category:
    return Category(slug=slug or slugify(name), name=html.unescape(name).strip())


def content_hash(title: str, content_html: str) -> str:
    # surrogatepass: a lone surrogate in a caller's text changes the hash, never raises
    return hashlib.sha256(f"{title}\x00{content_html}".encode(errors="surrogatepass")).hexdigest()


def finish(
    article: Article,
    base_url: str,
    boilerplate: Sequence[str],
    rules: LanguageRules | None = None,
    feed_language: str = "",
) -> Article:
    """Sanitize an article parsed from any source and fill its derived fields.

    Every URL goes through the URL policy: an article whose link is not http(s) takes
    its guid when that is one (else ValueError: the reader skips the item). The summary
    is the cleaned excerpt, or the cleaned body's first lines when the excerpt is
    missing or WordPress's automatic one. The language is decided by ``rules``
    (``collect.language``).
    """
    base = base_url or article.url
    article.url = canonical_url(article_link(article, base))
    article.title = plain_text(article.title)
    prepared = prepare(article.content_html, boilerplate)
    article.content_html = sanitize(prepared, base or article.url).strip()
    article.summary = clean_summary(article.summary, article.content_html, boilerplate, base)
    article.image_url = urls.safe_absolute_url(article.image_url, base or article.url)
    if not article.image_url:
        article.image_alt = ""
    decided, how = language.decide(article, rules or LanguageRules(), feed_language)
    article.language, article.language_source = decided, how
    article.content_hash = content_hash(article.title, article.content_html)
    return article


def article_link(article: Article, base: str) -> str:
    """The item's link if the URL policy allows it, else its guid if that is a link."""
    for candidate in (article.url, article.guid):
        link = urls.safe_absolute_url(candidate, base)
        if link and urls.scheme_of(link) in urls.WEB_SCHEMES:
            return link
    raise ValueError(f"its link {article.url[:80]!r} is not an http(s) URL")


def clean_summary(excerpt: str, content_html: str, boilerplate: Sequence[str], base: str) -> str:
    """A hand-written excerpt, cleaned like a body; else the body's first lines.

    WordPress's automatic excerpt (it ends in "[…]") is the raw start of the post,
    buttons and captions included: the cleaned body says the same, without them."""
    if excerpt.strip() and not WORDPRESS_MORE.search(excerpt):
        cleaned = summarize(summary_text(sanitize(prepare(excerpt, boilerplate), base)))
        if cleaned:
            return cleaned
    return summarize(summary_text(content_html))


# Query parameters that only say where a click came from: never part of an article's URL.
TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl"
    r"|mkt_tok|ref_src|__twitter_impression)$",
    re.I,
)


def canonical_url(url: str) -> str:
    """The URL an article is known by: no tracking parameters, no fragment."""
    parts = urlsplit(url.strip())
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if not TRACKING.match(key)]
    if len(kept) != len(pairs):
        query = urlencode(kept)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original", "data-orig-src")
LAZY_SRCSETS = ("data-srcset", "data-lazy-srcset", "srcset")
# Elements whose whole text may be a theme phrase ("Abone Ol" is a button or a link).
PHRASE_TAGS = {"p", "div", "span", "a", "button", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
PROSE_WORDS = 12  # a block with this many words outside links is article text


def prepare(fragment: str, boilerplate: Sequence[str]) -> str:
    """Lazy images made real, embeds made links, shortcodes and theme boilerplate
    dropped, before sanitizing. Markup lxml cannot read is returned for the sanitizer."""
    if not fragment.strip():
        return ""
    root = parse_fragment(fragment)
    if root is None:
        return drop_shortcodes(fragment)
    resolve_lazy_images(root)
    embeds.replace_embeds(root)
    apply_url_policy(root)
    drop_shortcodes_in(root)
    phrases = {normalize(phrase) for phrase in boilerplate}
    if phrases:
        drop_tail(root, phrases)
        drop_phrases(root, phrases)
    return serialize_children(root)


# Comments and processing instructions are never article text: the parser drops them, so
# no code below meets a node that is not an element.
PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, recover=True)


DOCUMENT_TAGS = re.compile(
    r"<!doctype[^>]*>|<head\b[^>]*>.*?</head\s*>|</?(html|body)\b[^>]*>", re.I | re.S
)


def parse_fragment(fragment: str) -> lxml_html.HtmlElement | None:
    """A fragment (or a whole document: its body) as the children of one element.

    None when lxml cannot read it at all (the caller keeps the text as it is)."""
    # A fragment's own <html>/<body> tags (or their end tags, after which libxml2 drops
    # the rest) and <head> say nothing a fragment needs: the body's content stays.
    text = DOCUMENT_TAGS.sub("", XML_UNSAFE.sub("", fragment))
    try:
        document = lxml_html.document_fromstring(f"<html><body>{text}</body></html>", parser=PARSER)
    except (etree.LxmlError, ValueError, AssertionError):
        return None
    body = document.find("body")
    if body is None:
        return lxml_html.Element("div")
    return body


def serialize_children(root: lxml_html.HtmlElement) -> str:
    """The element's content without the element itself (its own attributes dropped)."""
    inner = html.escape(root.text or "", quote=False)
    return inner + "".join(str(lxml_html.tostring(child, encoding="unicode")) for child in root)


def apply_url_policy(root: lxml_html.HtmlElement) -> None:
    """Unsafe URLs out before lxml serializes (it would percent-encode a tab hidden in
    "java\tscript:" into a harmless-looking relative URL). ``sanitize`` checks again."""
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            safe = urls.safe_attribute(name, value)
            if safe is None:
                del element.attrib[name]
            elif safe != value:
                element.set(name, XML_UNSAFE.sub("", safe))


def drop_shortcodes_in(root: lxml_html.HtmlElement) -> None:
    for element in root.iter():
        # XML_UNSAFE again: libxml2 decodes "&#1;" into text that lxml then refuses to set.
        if element.text:
            element.text = XML_UNSAFE.sub("", drop_shortcodes(element.text))
        if element.tail and element is not root:
            element.tail = XML_UNSAFE.sub("", drop_shortcodes(element.tail))


def resolve_lazy_images(root: lxml_html.HtmlElement) -> None:
    """``data-src``/``srcset`` lazy loading -> a real ``src``; placeholders dropped."""
    for noscript in list(root.iter("noscript")):
        previous = noscript.getprevious()
        if previous is not None and previous.tag == "img":
            noscript.drop_tree()  # the lazy <img> before it is resolved below
        else:
            noscript.drop_tag()
    for img in list(root.iter("img")):
        src = next((img.get(name) for name in LAZY_SOURCES if img.get(name)), "")
        current = (img.get("src") or "").strip()
        if not src and (not current or current.startswith("data:")):
            srcset = next((img.get(name) for name in LAZY_SRCSETS if img.get(name)), "")
            src = largest_candidate(srcset or "")
        src = (src or current).strip()
        if not urls.safe_url(src):  # none, a data: placeholder, or a scheme we refuse
            img.drop_tree()
        else:
            img.set("src", XML_UNSAFE.sub("", src))


def largest_candidate(srcset: str) -> str:
    """The widest image of a ``srcset`` ("a.jpg 300w, b.jpg 1024w" -> "b.jpg")."""
    best, best_size = "", -1.0
    for candidate in srcset.split(","):
        parts = candidate.split()
        if not parts:
            continue
        descriptor = parts[1] if len(parts) > 1 else "1x"
        try:
            size = float(descriptor[:-1])
        except ValueError:
            continue
        if size > best_size:
            best, best_size = parts[0], size
    return best


def normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def drop_tail(root: lxml_html.HtmlElement, phrases: set[str]) -> None:
    """From the last theme phrase that only links and short lines follow, drop the rest
    ("Abone Ol", "Related Articles" and its list, "Back to top button").

    Never the whole article: a short post whose only text follows its button keeps it,
    and a tail holding an embedded video is article, not theme."""
    while len(root) == 1 and not (root.text or "").strip() and len(root[0]):
        root = root[0]  # a single wrapper: look at its blocks
    blocks = [block for block in root if isinstance(block.tag, str)]
    prose_after = False
    cut = None
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        if not prose_after and normalize(block.text_content()) in phrases:
            cut = index
        prose_after = prose_after or is_prose(block) or embeds.holds_embed(block)
    if cut is None or not has_text(root.text, blocks[:cut], phrases):
        return
    for block in blocks[cut:]:
        block.drop_tree()


def has_text(lead: str | None, blocks: Sequence[lxml_html.HtmlElement], phrases: set[str]) -> bool:
    """Whether anything but theme phrases is in ``lead`` and ``blocks``."""
    if (lead or "").strip():
        return True
    return any(
        text and text not in phrases for text in (normalize(b.text_content()) for b in blocks)
    )


def is_prose(block: lxml_html.HtmlElement) -> bool:
    words = len(block.text_content().split())
    linked = sum(len(a.text_content().split()) for a in block.iter("a"))
    return words - linked >= PROSE_WORDS


def drop_phrases(root: lxml_html.HtmlElement, phrases: set[str]) -> None:
    """Any element whose whole text is a theme phrase goes (its tail text stays)."""
    found = [
        el
        for el in root.iter(*PHRASE_TAGS)
        if el is not root and normalize(el.text_content()) in phrases
    ]
    outermost = set(found)
    for element in found:
        if not any(ancestor in outermost for ancestor in element.iterancestors()):
            element.drop_tree()

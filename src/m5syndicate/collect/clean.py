"""Cleaning shared by every source type: resolve lazy images, drop theme boilerplate,
sanitize (allowlist), make URLs absolute, strip tracking parameters, summarise, guess the
language, hash. Pure functions: text in, text out."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3
from lxml import html as lxml_html
from lxml.etree import ParserError

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
URL_SCHEMES = {"http", "https", "mailto"}
TURKISH_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâîû", "cgiosuCGIOSUaiu")


def sanitize(fragment: str, base_url: str) -> str:
    """Allowlist HTML; relative links and images made absolute against ``base_url``."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=lambda tag, attr, value: absolute(tag, attr, value, base_url),
    )


def absolute(tag: str, attribute: str, value: str, base_url: str) -> str:
    if attribute in ("href", "src", "cite") and base_url:
        return urljoin(base_url, value.strip())
    return value


BLOCK_TAG = re.compile(
    r"</?(p|div|h[1-6]|li|ul|ol|blockquote|figure|figcaption|table|tr|td|th|br|hr)\b[^>]*>", re.I
)


def plain_text(fragment: str) -> str:
    text = BLOCK_TAG.sub(" ", fragment)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


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
    return hashlib.sha256(f"{title}\x00{content_html}".encode()).hexdigest()


def finish(
    article: Article, base_url: str, boilerplate: Sequence[str], default_language: str = ""
) -> Article:
    """Sanitize an article parsed from any source and fill its derived fields.

    The language is the payload's if it said one, else the text's when it clearly reads
    as Turkish or English, else ``default_language`` (the source's setting).
    """
    article.url = canonical_url(urljoin(base_url, article.url))
    article.title = plain_text(article.title)
    prepared = prepare(article.content_html, boilerplate)
    article.content_html = sanitize(prepared, base_url or article.url).strip()
    article.summary = summarize(article.summary) or summarize(article.content_html)
    if article.image_url:
        article.image_url = urljoin(base_url or article.url, article.image_url.strip())
    if not article.language:
        text = f"{article.title} {article.summary}"
        article.language = guess_language(text, default_language)
    article.content_hash = content_hash(article.title, article.content_html)
    return article


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
    """Lazy images made real and theme boilerplate dropped, before sanitizing."""
    if not fragment.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except ParserError:
        return fragment
    resolve_lazy_images(root)
    phrases = {normalize(phrase) for phrase in boilerplate}
    if phrases:
        drop_tail(root, phrases)
        drop_phrases(root, phrases)
    serialized = str(lxml_html.tostring(root, encoding="unicode"))
    return serialized[len("<div>") : -len("</div>")]


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
        if not src or src.startswith("data:"):
            img.drop_tree()
        else:
            img.set("src", src)


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
    ("Abone Ol", "Related Articles" and its list, "Back to top button")."""
    while len(root) == 1 and not (root.text or "").strip() and len(root[0]):
        root = root[0]  # a single wrapper: look at its blocks
    blocks = list(root)
    prose_after = False
    cut = None
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        if not prose_after and normalize(block.text_content()) in phrases:
            cut = index
        prose_after = prose_after or is_prose(block)
    if cut is not None:
        for block in blocks[cut:]:
            block.drop_tree()


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


TURKISH_LETTERS = set("ğışĞİŞ")  # letters English text does not have
TURKISH_WORDS = {"ve", "bir", "bu", "ile", "için", "da", "de", "olan", "olarak", "ilk", "yeni"}
ENGLISH_WORDS = {"the", "and", "of", "to", "in", "a", "is", "for", "with", "on", "will"}


def guess_language(text: str, default: str) -> str:
    """'tr' or 'en' when the text clearly reads as one; otherwise ``default``."""
    words = re.findall(r"\w+", text.casefold())[:300]
    turkish = sum(word in TURKISH_WORDS for word in words)
    turkish += sum(1 for char in text[:3000] if char in TURKISH_LETTERS) // 2
    english = sum(word in ENGLISH_WORDS for word in words)
    if turkish >= 3 and turkish > 2 * english:
        return "tr"
    if english >= 3 and english > 2 * turkish:
        return "en"
    return default

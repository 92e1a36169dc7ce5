"""The URL policy, applied when an article is collected and again when it is rendered.

Every URL-bearing value (``href``, ``src``, ``srcset``, ``cite``, ``poster``, item links,
guids used as links, enclosures, media, image URLs) may be ``http`` or ``https``; links
(``href``, ``mailto`` only there) may also be ``mailto``. Anything else (``javascript:``,
``vbscript:``, ``data:``, ``file:``...) is dropped. Browsers read schemes leniently
(``JaVaScRiPt:``, ``java\\tscript:``, ``&#106;avascript:``, leading spaces or control
characters), so the scheme is judged on the value as a browser would see it.
Pure; used by ``collect.clean``, ``feeds.items`` and ``newsletter.render``.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Attributes whose value is a URL (or, for srcset, a list of them), in any element.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "cite", "poster", "action", "formaction", "longdesc", "background"}
    | {"data", "ping", "xlink:href", "manifest", "icon", "codebase", "usemap", "lowsrc"}
)
SRCSET_ATTRIBUTES = frozenset({"srcset", "imagesrcset"})
# What the WHATWG URL parser ignores: C0 controls and spaces around, tab/CR/LF anywhere.
AROUND = "".join(chr(code) for code in range(0x21))
INSIDE = re.compile(r"[\t\n\r]")
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def scheme_of(url: str) -> str:
    """The scheme a browser would use for ``url`` ('' for a relative URL), lower case.

    Entities are decoded (repeatedly: ``&amp;#106;`` hides ``&#106;``) before looking."""
    seen = url
    for _ in range(3):
        decoded = html.unescape(seen)
        if decoded == seen:
            break
        seen = decoded
    seen = INSIDE.sub("", seen).strip(AROUND)
    match = SCHEME.match(seen)
    return match.group(1).lower() if match else ""


def safe_url(url: str | None, base: str = "", link: bool = False) -> str:
    """``url`` made absolute against ``base`` if allowed, else ''.

    Allowed: http(s), and mailto when ``link``. A relative URL with no base to resolve
    it against is kept as it is (it has no scheme to abuse)."""
    value = INSIDE.sub("", url or "").strip(AROUND)
    if not value:
        return ""
    allowed = LINK_SCHEMES if link else WEB_SCHEMES
    scheme = scheme_of(value)
    if scheme and scheme not in allowed:
        return ""
    resolved = urljoin(base, value) if base and scheme != "mailto" else value
    final = scheme_of(resolved)
    if final and final not in allowed:
        return ""
    if final in WEB_SCHEMES and not urlsplit(resolved).netloc:
        return ""  # "http:foo" or "https:///x": nowhere to go
    return resolved


def safe_absolute_url(url: str | None, base: str = "", link: bool = False) -> str:
    """Like ``safe_url``, but a URL that is still relative after resolution is ''."""
    resolved = safe_url(url, base, link)
    return resolved if scheme_of(resolved) else ""


def safe_srcset(srcset: str | None, base: str = "") -> str:
    """A ``srcset`` with every unsafe candidate left out ('' when none is left)."""
    kept = []
    for candidate in (srcset or "").split(","):
        parts = candidate.split()
        if not parts:
            continue
        url = safe_url(parts[0], base)
        if url:
            kept.append(" ".join([url, *parts[1:]]))
    return ", ".join(kept)


def safe_attribute(attribute: str, value: str, base: str = "") -> str | None:
    """An attribute's value under the policy: None drops the attribute (nh3's
    ``attribute_filter`` contract); attributes that hold no URL pass unchanged."""
    name = attribute.lower()
    if name in SRCSET_ATTRIBUTES:
        return safe_srcset(value, base) or None
    if name in URL_ATTRIBUTES:
        return safe_url(value, base, link=name == "href") or None
    return value

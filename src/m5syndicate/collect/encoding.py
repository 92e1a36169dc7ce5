"""Turning fetched bytes into text, Turkish encodings included.

Browsers (WHATWG Encoding) read ``ISO-8859-9`` and ``latin5`` as ``windows-1254``: the
two differ only in 0x80-0x9F, where publishers who declare ISO-8859-9 actually put
windows-1254's quotes and dashes. We do the same, and likewise ``ISO-8859-1`` as
``windows-1252``.
"""

from __future__ import annotations

import codecs
import re

ALIASES = {
    "iso-8859-9": "cp1254",
    "iso8859-9": "cp1254",
    "iso_8859-9": "cp1254",
    "latin5": "cp1254",
    "l5": "cp1254",
    "iso-ir-148": "cp1254",
    "csisolatin5": "cp1254",
    "windows-1254": "cp1254",
    "x-cp1254": "cp1254",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.I)
XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)


def codec_for(label: str) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    label = label.strip().lower()
    try:
        name = codecs.lookup(ALIASES.get(label, label)).name
    except LookupError:
        return None
    return {"iso8859-9": "cp1254", "iso8859-1": "cp1252", "ascii": "cp1252"}.get(name, name)


def declared_charset(body: bytes, content_type: str) -> str | None:
    """BOM, then the HTTP header, then the document's own declaration."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    found = HEADER_CHARSET.search(content_type or "")
    if found and codec_for(found.group(1)):
        return codec_for(found.group(1))
    head = body[:4096]
    for pattern in (XML_DECLARATION, META_CHARSET):
        match = pattern.search(head)
        if match and codec_for(match.group(1).decode("ascii", "replace")):
            return codec_for(match.group(1).decode("ascii", "replace"))
    return None


def decode(body: bytes, content_type: str = "") -> str:
    """Text of a page: as declared; undeclared, UTF-8, or windows-1254 if it is not."""
    charset = declared_charset(body, content_type)
    if charset:
        return body.decode(charset, errors="replace").lstrip("\ufeff")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1254", errors="replace")


def xml_as_utf8(body: bytes, content_type: str = "") -> bytes:
    """XML re-encoded as UTF-8 with its declaration saying so (feedparser then reads
    windows-1254 and ISO-8859-9 documents the way browsers do)."""
    charset = declared_charset(body, content_type)
    if charset in (None, "utf-8"):
        return body
    text = body.decode(charset, errors="replace")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", '<?xml version="1.0" encoding="utf-8"?>', text)
    return text.encode("utf-8")

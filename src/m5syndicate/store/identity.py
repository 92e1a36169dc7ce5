"""What makes two stored articles the same story, and what makes a stored one changed.

Pure functions (no SQL): the article store and migration 0003 both use them, so rows
migrated from before 0003 get the keys new rows get.

"One site" is the URL host: every source of this installation that publishes a story
under the same absolute guid (WordPress's ``https://site/?p=123``, given alike by its REST
API and its RSS feed) or, for html sources, the same address gives one article. A guid
that is not an absolute URL (a feed's ``tag:`` id, a file name) is only unique within its
source, so its key is scoped to the source.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit, urlunsplit

from m5syndicate.models import Article

URL_SCHEMES = ("http", "https")


def identity_key(guid: str, source_id: int) -> str:
    """The key unique across sources: the guid as a URL without scheme or fragment (an
    http and an https copy of a guid are one story), else the source-scoped guid."""
    parts = urlsplit(guid.strip())
    if parts.scheme.lower() in URL_SCHEMES and parts.netloc:
        return urlunsplit(("", parts.netloc.lower(), parts.path or "/", parts.query, ""))
    return f"source:{source_id}:{guid}"


def fingerprint(article: Article) -> str:
    """A hash of everything a reader or a feed can see: any difference is an update
    (``content_hash`` covers only title and text, and decides what counts as "updated"
    in a digest; this decides what is stored and rebuilt)."""
    seen = {
        "url": article.url,
        "title": article.title,
        "content_html": article.content_html,
        "summary": article.summary,
        "author": article.author,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "language": article.language,
        "categories": sorted((c.slug, c.name) for c in article.categories),
        "tags": sorted((t.slug, t.name) for t in article.tags),
        "status": article.status,
    }
    text = json.dumps(seen, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()

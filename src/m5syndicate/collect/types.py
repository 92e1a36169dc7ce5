"""The source types: one entry each, with its reader and its parser.

Every type's module has the same two functions: ``read(ctx) -> AsyncIterator[Page]``
(fetch through the Fetcher, parse, clean, yield pages to store) and
``parse(body, base_url, content_type, now) -> Parsed`` (pure; the golden tests call it).
The keys are exactly ``[[sources]] type``'s choices (config.SourceType); a test holds the
two together, since the settings sit below this package and cannot import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from m5syndicate.collect import directory, feed, html, wordpress
from m5syndicate.collect.parsed import Parsed
from m5syndicate.collect.reading import Reader

Parser = Callable[[bytes, str, str, datetime], Parsed]


@dataclass(frozen=True)
class SourceType:
    read: Reader
    parse: Parser


SOURCE_TYPES: Mapping[str, SourceType] = {
    "wordpress": SourceType(wordpress.read, wordpress.parse),
    "feed": SourceType(feed.read, feed.parse),
    "html": SourceType(html.read, html.parse),
    "directory": SourceType(directory.read, directory.parse),
}

"""Publishing: build every feed from the database, write the files whose bytes changed
(atomically), and ping the WebSub hub for them.

``publish_feeds`` is the one use case: ``feeds build``, the demo, and, after each
collection, whatever ran it call this same function. The web app's cache builds
through ``build_feed`` too, so a file on disk and a served feed are the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import httpx
from sqlalchemy.engine import Connection, Engine

from m5syndicate.config import FeedsSettings, SiteSettings
from m5syndicate.errors import PublishError
from m5syndicate.feeds.build import build_opml, render_all
from m5syndicate.feeds.catalog import FORMATS, FeedSpec, feed_catalog, feed_meta
from m5syndicate.feeds.items import feed_items, feed_updated
from m5syndicate.store.articles import latest_articles

OPML_NAME = "feeds.opml"
PING_TIMEOUT_SECONDS = 10.0


@dataclass
class BuiltFeed:
    """One feed in one format, ready to write or serve."""

    name: str
    fmt: str
    body: bytes
    updated: datetime  # the newest item update: Last-Modified, and the file's mtime

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.fmt}"

    @property
    def media_type(self) -> str:
        return f"{FORMATS[self.fmt]}; charset=utf-8"

    @cached_property
    def etag(self) -> str:
        return strong_etag(self.body)

    @cached_property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'  # another representation, another strong tag

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)


@dataclass
class PublishReport:
    out_dir: Path
    written: list[str] = field(default_factory=list)  # files whose bytes changed
    unchanged: list[str] = field(default_factory=list)
    pinged: list[str] = field(default_factory=list)  # feed URLs the hub accepted
    ping_errors: list[str] = field(default_factory=list)


def strong_etag(data: bytes) -> str:
    """Changes exactly when the bytes change."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def build_feed(
    conn: Connection, spec: FeedSpec, feeds: FeedsSettings, site: SiteSettings
) -> dict[str, BuiltFeed]:
    """Every format of one feed, from the database as it is now."""
    articles = latest_articles(conn, feeds.items, language=spec.language, category=spec.category)
    meta = feed_meta(spec, feeds, site)
    items = feed_items(articles, meta)
    updated = feed_updated(items)
    bodies = render_all(items, meta)
    return {fmt: BuiltFeed(spec.name, fmt, body, updated) for fmt, body in bodies.items()}


def publish_feeds(
    engine: Engine,
    feeds: FeedsSettings,
    site: SiteSettings,
    out_dir: Path | None = None,
    http: httpx.Client | None = None,
) -> PublishReport:
    """Write every feed (and feeds.opml) under ``out_dir`` (default ``[feeds] out_dir``),
    rewriting only files whose bytes changed; ping ``[feeds] websub_hub`` for those."""
    folder = Path(out_dir or feeds.out_dir)
    catalog = feed_catalog(feeds, site)
    with engine.connect() as conn:
        built = [feed for spec in catalog for feed in build_feed(conn, spec, feeds, site).values()]
    report = PublishReport(folder.resolve())
    make_folder(folder)
    for feed in built:
        changed = write_if_changed(folder / feed.filename, feed.body, feed.updated)
        (report.written if changed else report.unchanged).append(feed.filename)
    opml = build_opml(catalog, site.public_url, site.title, site.url)
    write_if_changed(folder / OPML_NAME, opml, None)
    if feeds.websub_hub and report.written:
        public = site.public_url.rstrip("/")
        urls = [f"{public}/feeds/{name}" for name in report.written]
        report.pinged, report.ping_errors = ping_hub(feeds.websub_hub, urls, http)
    return report


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(
            f"feeds: cannot create {folder}: {exc.strerror}; set [feeds] out_dir or --out "
            "to a folder this user can write"
        ) from exc


def write_if_changed(path: Path, data: bytes, updated: datetime | None) -> bool:
    """Write ``data`` atomically (temporary file, fsync, rename) unless ``path`` already
    holds exactly it. Readers see the old file or the new one, never half of one."""
    if same_bytes(path, data):
        return False
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if updated is not None:  # a static server then sends Last-Modified = newest item
            stamp = updated.timestamp()
            os.utime(temporary, (stamp, stamp))
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PublishError(
            f"feeds: cannot write {path}: {exc.strerror}; check the folder's permissions "
            "and free space"
        ) from exc
    return True


def same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def ping_hub(
    hub: str, urls: Sequence[str], http: httpx.Client | None
) -> tuple[list[str], list[str]]:
    """Tell the WebSub hub each URL changed (hub.mode=publish). A refusal is reported,
    never raised: the files are written either way and the hub will poll."""
    if http is None:
        with httpx.Client(timeout=PING_TIMEOUT_SECONDS) as client:
            return ping_hub(hub, urls, client)
    accepted: list[str] = []
    errors: list[str] = []
    for url in urls:
        try:
            response = http.post(hub, data={"hub.mode": "publish", "hub.url": url})
        except httpx.HTTPError as exc:
            errors.append(f"websub: {hub} unreachable for {url}: {exc}; the hub will poll")
            continue
        if response.is_success:
            accepted.append(url)
        else:
            errors.append(
                f"websub: {hub} answered {response.status_code} for {url}; check [feeds] websub_hub"
            )
    return accepted, errors

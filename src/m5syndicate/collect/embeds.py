"""Embedded videos -> a link with the video's title (and its poster, when it has one).

The sanitizer drops ``<iframe>``, ``<video>`` and ``<embed>``: mail clients and feed
readers do not play them, and a post that was only a video kept nothing. Here, before
sanitizing, each becomes ``<figure><a href="watch URL">[poster] title</a></figure>``, so
the reader can still go to it. WordPress embed blocks (``figure.wp-block-embed``) with
no iframe (the URL as text, oEmbed not run) get the same. Works on an lxml tree in place.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from lxml import html as lxml_html

from m5syndicate.collect import urls

# NUL and the C0 controls lxml refuses ("All strings must be XML compatible"); lone
# surrogates, which cannot be encoded at all.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MARK = "data-m5-embed"  # set on what we made, for the tail rule; the sanitizer drops it
YOUTUBE_ID = re.compile(r"^[\w-]{6,20}$")
PLAYERS = ("iframe", "video", "embed", "object")


def replace_embeds(root: lxml_html.HtmlElement) -> None:
    linked: set[str] = set()  # an <object> and the <embed> inside it: one link
    for block in list(root.iter("figure", "div")):
        if "wp-block-embed" in (block.get("class") or "").split() and block.getparent() is not None:
            replace_block(block, linked)
    for player in list(root.iter(*PLAYERS)):
        if player.getparent() is not None:
            replace_player(player, linked)


def replace_block(block: lxml_html.HtmlElement, linked: set[str]) -> None:
    """A WordPress embed block: its player (or the bare URL it holds) -> a link."""
    player = next(block.iter(*PLAYERS), None)
    url = player_url(player) if player is not None else bare_url(block)
    if not url:
        return  # nothing we can link: the sanitizer keeps its caption, if any
    caption = block.find(".//figcaption")
    title = (player.get("title") if player is not None else "") or ""
    title = title.strip() or (caption.text_content().strip() if caption is not None else "")
    linked.add(url)
    block.addprevious(video_link(url, title or url, poster(player)))
    block.drop_tree()


def bare_url(block: lxml_html.HtmlElement) -> str:
    """The URL an embed block holds as text (oEmbed not run), as a watch URL."""
    wrapper = next(
        (d for d in block.iter("div") if "wp-block-embed__wrapper" in (d.get("class") or "")),
        None,
    )
    words = (wrapper if wrapper is not None else block).text_content().split()
    return watch_url(urls.safe_absolute_url(words[0])) if words else ""


def replace_player(player: lxml_html.HtmlElement, linked: set[str]) -> None:
    """A video player -> a link; other iframes and plugins are left to the sanitizer.

    The player's children stay (an ``<object>``'s fallback, and whatever libxml2 put
    inside an unclosed one), except an iframe's, which are never shown."""
    url = player_url(player)
    if not url or not (player.tag == "video" or is_video_site(url)):
        return
    if url not in linked:
        title = (player.get("title") or player.get("aria-label") or "").strip()
        player.addprevious(video_link(url, title or url, poster(player)))
        linked.add(url)
    if player.tag == "iframe":
        player.drop_tree()
    else:
        player.drop_tag()


def is_video_site(url: str) -> bool:
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return host in ("youtube.com", "vimeo.com")  # what watch_url() makes of players


def player_url(player: lxml_html.HtmlElement) -> str:
    """Where a person watches it: YouTube/Vimeo's page, else the player's own source."""
    source = player.get("src") or player.get("data-src") or player.get("data") or ""
    if not source:
        inner = next(player.iter("source"), None)
        source = inner.get("src", "") if inner is not None else ""
    return watch_url(urls.safe_url(source.strip()))


def watch_url(source: str) -> str:
    """'https://www.youtube.com/embed/ID?feature=oembed' -> 'https://www.youtube.com/watch?v=ID'."""
    parts = urlsplit(source)
    host = (parts.hostname or "").removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host in ("youtube.com", "youtube-nocookie.com", "m.youtube.com") and segments:
        video = segments[-1] if segments[0] in ("embed", "shorts", "live", "v") else ""
        video = video or (parse_qs(parts.query).get("v") or [""])[0]
        if YOUTUBE_ID.match(video):
            return f"https://www.youtube.com/watch?v={video}"
    if host == "youtu.be" and segments and YOUTUBE_ID.match(segments[0]):
        return f"https://www.youtube.com/watch?v={segments[0]}"
    if host == "player.vimeo.com" and len(segments) >= 2 and segments[1].isdigit():
        return f"https://vimeo.com/{segments[1]}"
    return source


def poster(player: lxml_html.HtmlElement | None) -> str:
    return urls.safe_url(player.get("poster")) if player is not None else ""


def video_link(url: str, title: str, poster_url: str) -> lxml_html.HtmlElement:
    url, title, poster_url = (XML_UNSAFE.sub("", text) for text in (url, title, poster_url))
    figure = lxml_html.Element("figure", {MARK: "1"})
    link = lxml_html.Element("a", {"href": url})
    if poster_url:
        link.append(lxml_html.Element("img", {"src": poster_url, "alt": title}))
        link[-1].tail = title
    else:
        link.text = title
    figure.append(link)
    return figure


def holds_embed(block: lxml_html.HtmlElement) -> bool:
    return bool(block.xpath(f"descendant-or-self::*[@{MARK}]"))

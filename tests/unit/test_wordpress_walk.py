"""The pure parts of the WordPress walk: API addresses, keyset parameters, the cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m5syndicate.collect import wordpress
from m5syndicate.errors import ParseError

KEY = wordpress.PostKey(
    7,
    "2026-11-28T09:00:00",
    "2026-11-28T09:30:00",
    datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
    datetime(2026, 11, 28, 6, 30, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("pasted", "posts"),
    [
        ("https://site/wp-json/", "https://site/wp-json/wp/v2/posts"),
        ("https://site/wp-json", "https://site/wp-json/wp/v2/posts"),
        ("https://site/blog/wp-json/wp/v2/", "https://site/blog/wp-json/wp/v2/posts"),
        ("https://site/wp-json/wp/v2/posts", "https://site/wp-json/wp/v2/posts"),
        ("https://site/?rest_route=/wp/v2/", "https://site/?rest_route=%2Fwp%2Fv2%2Fposts"),
        ("https://site/?rest_route=/", "https://site/?rest_route=%2Fwp%2Fv2%2Fposts"),
    ],
)
def test_the_url_forms_people_paste_name_the_posts_endpoint(pasted: str, posts: str) -> None:
    assert wordpress.posts_endpoint(pasted) == posts


def test_a_site_root_needs_discovery_from_its_link_header() -> None:
    assert wordpress.api_from_url("https://site/") is None
    header = '<https://site/wp-json/>; rel="https://api.w.org/", <https://site/?p=1>; rel=shortlink'
    api = wordpress.api_from_link(header, "https://site/")
    assert api is not None and api.root == "https://site/wp-json/wp/v2/"
    plain = wordpress.api_from_link('<https://site/?rest_route=/>; rel="https://api.w.org/"', "")
    assert plain is not None and plain.url("/wp/v2/posts", {"page": "2"}).endswith("&page=2")
    assert wordpress.api_from_link('<https://site/feed/>; rel="alternate"', "https://site/") is None


def test_keyset_asks_from_the_newest_second_without_the_ids_read_at_it() -> None:
    keyset = wordpress.Keyset("modified")
    assert "modified_after" not in keyset.params()
    later = wordpress.PostKey(9, KEY.date, KEY.modified, KEY.date_gmt, KEY.modified_gmt)
    keyset.advance([KEY, later], "page 1")
    params = keyset.params()
    assert (params["modified_after"], params["exclude"]) == ("2026-11-28T09:29:59", "7,9")
    assert (params["orderby"], params["order"]) == ("modified", "asc")
    with pytest.raises(ParseError, match="cannot go on"):
        keyset.advance([], "page 2")


def test_the_cursor_is_json_and_the_old_bare_time_still_reads() -> None:
    cursor = wordpress.Cursor(modified="2026-11-28T09:30:00", reconciled="2026-11-28T06:00:00")
    again = wordpress.Cursor.loads(cursor.dumps(), ZoneInfo("UTC"))
    assert again == cursor
    old = wordpress.Cursor.loads("2026-11-28T06:30:00+00:00", ZoneInfo("Europe/Istanbul"))
    assert old == wordpress.Cursor(modified="2026-11-28T09:30:00")
    assert wordpress.Cursor.loads("{not json", ZoneInfo("UTC")) == wordpress.Cursor()
    now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert cursor.reconcile_due(now, timedelta(days=1))
    assert not cursor.reconcile_due(now - timedelta(seconds=1), timedelta(days=1))


def test_a_time_is_turned_into_wall_time_by_the_posts_own_offset() -> None:
    assert KEY.wall_at(datetime(2026, 11, 28, 7, 0, tzinfo=UTC)) == "2026-11-28T10:00:00"


def test_password_protected_and_unpublished_posts_are_withdrawn() -> None:
    assert wordpress.post_status({"status": "publish", "content": {"protected": True}}) == (
        "withdrawn"
    )
    assert wordpress.post_status({"status": "private", "content": {}}) == "withdrawn"
    assert wordpress.post_status({"status": "publish", "content": {"protected": False}}) == (
        "published"
    )

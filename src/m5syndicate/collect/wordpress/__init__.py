"""The `wordpress` source type: its REST API read by keyset walks (`walk.read`), its
posts parsed, purely (`posts`, whose `parse` is the type's one parser signature)."""

from m5syndicate.collect.wordpress.posts import (
    PER_PAGE,
    POSTS_ROUTE,
    URL_FORMS,
    Api,
    Cursor,
    Keyset,
    PostKey,
    api_from_link,
    api_from_url,
    api_root,
    parse,
    parse_listing,
    parse_page,
    parse_posts,
    post_status,
    posts_endpoint,
    wall_minus,
)
from m5syndicate.collect.wordpress.walk import read

__all__ = [
    "PER_PAGE",
    "POSTS_ROUTE",
    "URL_FORMS",
    "Api",
    "Cursor",
    "Keyset",
    "PostKey",
    "api_from_link",
    "api_from_url",
    "api_root",
    "parse",
    "parse_listing",
    "parse_page",
    "parse_posts",
    "post_status",
    "posts_endpoint",
    "read",
    "wall_minus",
]

"""Feeds: the catalog (which feeds exist), build (pure), publish (files, ETags, WebSub)."""

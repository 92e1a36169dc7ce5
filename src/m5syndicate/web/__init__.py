"""The web app: feeds, subscription pages, archive, admin API, health."""

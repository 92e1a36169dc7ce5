"""Per-subscriber links in mail: preferences and one-click unsubscribe.

Each token is signed (itsdangerous, HMAC-SHA1 compared in constant time) with a salt per
purpose, so a preferences token never works as an unsubscribe token, and carries the
subscriber's id and ``token_version``: bumping the version revokes every link sent so
far. They do not expire (a digest from last year must still unsubscribe); a tampered,
foreign or malformed token verifies as None, whatever was wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from m5syndicate.errors import ConfigError

PURPOSES = ("unsubscribe", "preferences")
MAX_TOKEN_LENGTH = 200  # longer than any token we issue; refuse before verifying


@dataclass(frozen=True)
class Links:
    unsubscribe_url: str
    preferences_url: str


def serializer(purpose: str, secret_key: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"links: unknown token purpose {purpose!r}")
    if not secret_key:
        raise ConfigError(
            "web: M5_SECRET_KEY is not set; links in mail and on pages are signed with it. "
            "Set it to a long random value (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`) and keep it: changing it breaks sent links"
        )
    return URLSafeSerializer(secret_key, salt=purpose)


def make_token(subscriber_id: int, token_version: int, purpose: str, secret_key: str) -> str:
    return str(serializer(purpose, secret_key).dumps([subscriber_id, token_version]))


def subscriber_links(
    subscriber_id: int, token_version: int, public_url: str, secret_key: str
) -> Links:
    base = public_url.rstrip("/")
    return Links(
        unsubscribe_url=f"{base}/unsubscribe/"
        + make_token(subscriber_id, token_version, "unsubscribe", secret_key),
        preferences_url=f"{base}/preferences/"
        + make_token(subscriber_id, token_version, "preferences", secret_key),
    )


def verify_token(token: str, purpose: str, secret_key: str) -> tuple[int, int] | None:
    """(subscriber id, token version) of a genuine token of this purpose, else None."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = serializer(purpose, secret_key).loads(token)
    except BadData:
        return None
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and all(type(part) is int for part in payload)
    ):
        return payload[0], payload[1]
    return None

"""Confirmation tokens: random, single use, stored only as a SHA-256, valid 72 hours.

A token reads ``<subscriber id>.<random>``: the id finds the row, the random part (192
bits) is what proves the mailbox was read. The database keeps its hash, so a leaked
database confirms nobody; comparison is constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

CONFIRM_TTL = timedelta(hours=72)
TOKEN_PATTERN = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{32})")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_confirm_token(subscriber_id: int) -> tuple[str, str]:
    """(token for the link, hash for the database)."""
    token = f"{subscriber_id}.{secrets.token_urlsafe(24)}"
    return token, token_hash(token)


def parse_confirm_token(token: str) -> int | None:
    """The subscriber id a well-formed token names; None for anything else."""
    match = TOKEN_PATTERN.fullmatch(token)
    return int(match.group(1)) if match else None


def token_matches(token: str, stored_hash: str | None) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)

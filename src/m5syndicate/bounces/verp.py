"""Delivery tokens: each digest's envelope sender (VERP) and its ``X-M5-Delivery``
header name its ledger row, signed, so a bounce maps to (edition, subscriber) whether
the remote server bounces to the return path or quotes only the original headers.

A token is ``<delivery id>-<16 hex digits of HMAC-SHA256>``: lowercase letters, digits
and a dash, so it survives a server that lowercases local parts, and it is cheap
(one HMAC per message, like subscribers/links.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import parseaddr

from m5syndicate.config import Settings
from m5syndicate.subscribers.links import require_secret_key

DELIVERY_HEADER = "X-M5-Delivery"
PURPOSE = b"m5-delivery"
MAC_HEX = 16
TOKEN = re.compile(r"(?<![0-9a-z])([0-9]{1,19})-([0-9a-f]{16})(?![0-9a-z])", re.I)


def default_return_path(sender_address: str) -> str:
    """bounces+{token}@ the From address' domain."""
    return "bounces+{token}@" + (sender_address.rpartition("@")[2] or "localhost")


class DeliverySigner:
    def __init__(self, secret_key: str, return_path: str) -> None:
        secret = require_secret_key(secret_key).encode("utf-8")
        self.key = hashlib.sha256(PURPOSE + b"\x00" + secret).digest()
        self.return_path = return_path

    def mac(self, delivery_id: int) -> str:
        digest = hmac.new(self.key, str(int(delivery_id)).encode("ascii"), hashlib.sha256)
        return digest.hexdigest()[:MAC_HEX]

    def token(self, delivery_id: int) -> str:
        return f"{int(delivery_id)}-{self.mac(delivery_id)}"

    def envelope_sender(self, delivery_id: int) -> str:
        return self.return_path.replace("{token}", self.token(delivery_id))

    def verify(self, token: str) -> int | None:
        """The delivery id of a token of ours, else None."""
        match = TOKEN.fullmatch(token.strip())
        if match is None:
            return None
        delivery_id = int(match.group(1))
        return (
            delivery_id
            if hmac.compare_digest(self.mac(delivery_id), match.group(2).lower())
            else None
        )

    def find(self, text: str) -> list[int]:
        """Every delivery named by a valid token anywhere in ``text`` (a bounce quotes
        the return path or our header in its own words), first seen first."""
        found: list[int] = []
        for match in TOKEN.finditer(text):
            delivery_id = self.verify(match.group(0))
            if delivery_id is not None and delivery_id not in found:
                found.append(delivery_id)
        return found


def delivery_signer(settings: Settings) -> DeliverySigner:
    """The signer of the configured return path (default: bounces+{token}@ the From domain)."""
    return_path = settings.bounces.return_path or default_return_path(
        parseaddr(settings.newsletter.sender)[1]
    )
    return DeliverySigner(settings.web.secret_key.get_secret_value(), return_path)

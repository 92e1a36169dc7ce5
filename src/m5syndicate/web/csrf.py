"""CSRF protection for the forms: a signed double-submit cookie.

The browser holds a random value in an HttpOnly, SameSite=Lax cookie; each form carries
HMAC(secret key, value). Another site can make a browser send the cookie but can neither
read it nor compute the HMAC, so it cannot forge the form field. No server-side state.
The RFC 8058 one-click unsubscribe POST is exempt by design: mail clients send it with
no cookie, and its URL token is the credential.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "m5_csrf"
FIELD = "csrf_token"
MAX_COOKIE = 100


def cookie_value(request: Request) -> tuple[str, bool]:
    """(the browser's value, or a fresh one; whether it is fresh and must be set)."""
    current = request.cookies.get(COOKIE, "")
    if 20 <= len(current) <= MAX_COOKIE and current.isascii():
        return current, False
    return secrets.token_urlsafe(32), True


def form_token(value: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")


def is_valid(request: Request, submitted: str, secret_key: str) -> bool:
    value = request.cookies.get(COOKIE, "")
    if not value or len(value) > MAX_COOKIE or not value.isascii() or not submitted.isascii():
        return False
    return hmac.compare_digest(form_token(value, secret_key), submitted)

"""CSRF protection for the forms: a signed double-submit cookie.

The browser holds a value in an HttpOnly, SameSite=Lax cookie; each form carries
HMAC(secret key, value). The value is one this server issued: a random nonce signed
with the secret key and a timestamp (itsdangerous), so a cookie an attacker chose (set
from a sibling subdomain, say) is refused, and an issued one expires after
MAX_AGE_SECONDS (renewed on any page shown after a day). Another site can make a browser
send the cookie but can neither read it nor compute the HMAC. No server-side state.
The RFC 8058 one-click unsubscribe POST is exempt by design: mail clients send it with
no cookie, and its URL token is the credential.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "m5_csrf"
FIELD = "csrf_token"
MAX_COOKIE = 200
MAX_AGE_SECONDS = 7 * 24 * 3600
RENEW_AFTER_SECONDS = 24 * 3600  # a form shown now stays valid for six more days at least
SALT = "m5syndicate.csrf-cookie"


def signer(secret_key: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt=SALT)


def app_secret(request: Request) -> str:
    """The app's secret key (empty when unset: then no cookie is ever valid)."""
    key: str = request.app.state.runtime.settings.web.secret_key.get_secret_value()
    return key


def issued_at(value: str, secret_key: str) -> float | None:
    """When this server issued `value`, or None if it did not (or it has expired)."""
    if not secret_key or not value or len(value) > MAX_COOKIE or not value.isascii():
        return None
    try:
        _, stamp = signer(secret_key).unsign(value, MAX_AGE_SECONDS, return_timestamp=True)
    except BadSignature:  # SignatureExpired is one
        return None
    return stamp.timestamp()


def cookie_value(request: Request) -> tuple[str, bool]:
    """(the browser's value if this server issued it recently, or a fresh one; whether
    it is fresh and must be set)."""
    secret_key = app_secret(request)
    current = request.cookies.get(COOKIE, "")
    stamp = issued_at(current, secret_key)
    if stamp is not None and time.time() - stamp < RENEW_AFTER_SECONDS:
        return current, False
    return signer(secret_key).sign(secrets.token_urlsafe(24)).decode(), True


def form_token(value: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def is_valid(request: Request, submitted: str, secret_key: str) -> bool:
    value = request.cookies.get(COOKIE, "")
    if issued_at(value, secret_key) is None or not submitted.isascii():
        return False
    return hmac.compare_digest(form_token(value, secret_key), submitted)

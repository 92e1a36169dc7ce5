"""What every subscription page shares: the Jinja environment, the base context (language,
words, switch, feed autodiscovery, CSRF field), safe headers, bounded form reading, and
handing a mail to the transport after the response has gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from m5syndicate.config import LANGUAGES
from m5syndicate.errors import ConfigError, M5Error
from m5syndicate.feeds.catalog import FORMATS, feed_catalog
from m5syndicate.mail.message import Envelope
from m5syndicate.models import Subscriber
from m5syndicate.runtime import Runtime
from m5syndicate.subscribers.subscriptions import Confirmation
from m5syndicate.web import csrf
from m5syndicate.web.i18n import TEXT

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 16 * 1024  # the largest honest form (many categories) is a few KiB
# Tokens ride in page URLs: never send them on as a Referer; pages are never framed.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def secret_key(runtime: Runtime) -> str:
    key = runtime.settings.web.secret_key.get_secret_value()
    if not key:
        raise ConfigError(
            "web: M5_SECRET_KEY is not set; the subscription pages sign their links and "
            "forms with it. Set it to a long random value and keep it"
        )
    return key


def feed_links(runtime: Runtime) -> list[dict[str, str]]:
    settings = runtime.settings
    base = settings.site.public_url.rstrip("/")
    return [
        {"type": FORMATS[fmt], "title": spec.title, "href": base + spec.path(fmt)}
        for spec in feed_catalog(settings.feeds, settings.site)
        for fmt in ("rss", "atom", "json")
    ]


def render(
    request: Request, template: str, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page in `lang`; sets the CSRF cookie when the browser has none yet."""
    runtime = runtime_of(request)
    key = secret_key(runtime)  # first: a clear ConfigError when it is not set
    cookie, fresh = csrf.cookie_value(request)
    base = {
        "lang": lang,
        "t": TEXT[lang],
        "site_title": runtime.settings.site.title,
        "switch": [(code, f"{request.url.path}?lang={code}") for code in LANGUAGES],
        "feeds": feed_links(runtime),
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.form_token(cookie, key),
        "lang_query": f"?lang={lang}",
        "request_path": request.url.path,
    }
    html = environment().get_template(template).render({**base, **context})
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if fresh:
        csrf.set_cookie(response, cookie, runtime.settings.site.public_url.startswith("https:"))
    return response


async def read_form(request: Request) -> FormData | None:
    """The posted form (urlencoded or multipart, no files), or None when it is too big,
    of unknown length, or malformed."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_FORM_BYTES:
        return None
    try:
        return await request.form(max_files=0, max_fields=300, max_part_size=MAX_FORM_BYTES)
    except HTTPException:
        return None


async def checked_form(request: Request, lang: str) -> FormData | HTMLResponse:
    """The posted form if it is well-formed and carries a valid CSRF token; otherwise the
    page to answer with (400 or 403)."""
    form = await read_form(request)
    if form is None:
        return render(request, "message.html", lang, 400, kind="bad_request")
    token = text_field(form, csrf.FIELD, 200) or ""
    if not csrf.is_valid(request, token, secret_key(runtime_of(request))):
        return render(request, "message.html", lang, 403, kind="forbidden")
    return form


def text_field(form: FormData, name: str, limit: int) -> str | None:
    """A text field's value if present, a string and at most `limit` long; else None."""
    value = form.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        return None
    return value


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:500]


async def send_mail(runtime: Runtime, build: Callable[[], Envelope]) -> None:
    """Build and send one mail after the response went out, so a page's timing never
    tells whether a mail was sent; a failure is logged, the person retries later."""
    try:
        await runtime.transport.send(build())
    except M5Error as exc:
        log.warning("subscription mail not sent: %s", exc)


def confirmation_later(
    runtime: Runtime, confirmation: Confirmation, now: datetime
) -> BackgroundTask:
    """The confirmation mail, sent after the response (see `send_mail`)."""
    return BackgroundTask(
        send_mail,
        runtime,
        lambda: runtime.notices.confirmation(confirmation, now),
    )


def account_mail_later(
    runtime: Runtime, kind: str, subscriber: Subscriber, now: datetime
) -> BackgroundTask:
    """The welcome or goodbye mail, sent after the response (see `send_mail`)."""
    return BackgroundTask(
        send_mail,
        runtime,
        lambda: runtime.notices.account(kind, subscriber, now),
    )

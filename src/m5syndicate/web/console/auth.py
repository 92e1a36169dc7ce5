"""Logging in to the console: admins from the database (Argon2id), a signed session
cookie (HttpOnly, SameSite=Lax, Secure when the site is https), login attempts limited
per address and per client, and the `console_page` guard every console handler uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.admins.accounts import admin_by_id, authenticate, log_action
from m5syndicate.config import LANGUAGES
from m5syndicate.runtime import Runtime
from m5syndicate.store.admins import AdminUser
from m5syndicate.web.console.words import WORDS
from m5syndicate.web.i18n import accepted_language
from m5syndicate.web.ratelimit import RateLimiter
from m5syndicate.web.render import checked_form, client_ip, render, runtime_of, secret_key
from m5syndicate.web.render import text_field as field

SESSION_COOKIE = "m5_admin"
LANG_COOKIE = "m5_admin_lang"
SESSION_SECONDS = 12 * 3600  # a working day; then log in again
LOGIN_TRIES = 10  # per address and per client in LOGIN_WINDOW
LOGIN_WINDOW = 900


@dataclass(frozen=True)
class Admin:
    """The logged-in admin of one request, and the console's language for them."""

    user: AdminUser
    lang: str


Handler = Callable[[Request, Admin], Awaitable[Response]]


def serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(runtime), salt="m5-admin-session")


def session_of(user: AdminUser) -> dict[str, Any]:
    # A part of the password hash: changing the password ends every session.
    return {"a": user.id, "p": user.password_hash[-16:]}


def is_https(runtime: Runtime) -> bool:
    return runtime.settings.site.public_url.startswith("https:")


def console_lang(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE, "")
    if kept in LANGUAGES:
        return kept
    default = runtime_of(request).settings.site.language
    return accepted_language(request.headers.get("accept-language", ""), default)


def keep_lang(request: Request, response: Response) -> Response:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        secure = is_https(runtime_of(request))
        response.set_cookie(
            LANG_COOKIE, asked, httponly=True, samesite="lax", secure=secure, path="/admin"
        )
    return response


async def logged_in(request: Request) -> AdminUser | None:
    runtime = runtime_of(request)
    value = request.cookies.get(SESSION_COOKIE, "")
    if not value or len(value) > 500:
        return None
    try:
        data = serializer(runtime).loads(value, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        return None
    user = await run_in_threadpool(admin_by_id, runtime.engine, data["a"])
    if user is None or session_of(user) != data:
        return None
    return user


def console_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Only for a logged-in admin; others go to the login page (and come back)."""

    async def guarded(request: Request) -> Response:
        user = await logged_in(request)
        if user is None:
            target = quote(request.url.path, safe="/")
            away = RedirectResponse(f"/admin/login?next={target}", status_code=303)
            return keep_lang(request, away)
        return keep_lang(request, await handler(request, Admin(user, console_lang(request))))

    return guarded


def page(
    request: Request,
    template: str,
    admin: Admin | None,
    lang: str,
    status: int = 200,
    **context: Any,
) -> Response:
    """A console page: the pages' renderer (CSRF field, headers) plus the console words."""
    return render(request, template, lang, status, c=WORDS[lang], admin=admin, **context)


def audit(runtime: Runtime, admin: Admin, action: str, target: str = "", detail: str = "") -> None:
    log_action(runtime.engine, runtime.clock(), admin.user.email, action, target, detail)


async def audited(
    request: Request, admin: Admin, action: str, target: str = "", detail: str = ""
) -> None:
    await run_in_threadpool(audit, runtime_of(request), admin, action, target, detail)


def limiter(request: Request) -> RateLimiter:
    state = request.app.state
    if getattr(state, "login_limiter", None) is None:
        state.login_limiter = RateLimiter(LOGIN_TRIES, LOGIN_WINDOW)
    found: RateLimiter = state.login_limiter
    return found


def safe_next(value: str | None) -> str:
    """Only a path of the console: never an open redirect to another site."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin/"


async def login_form(request: Request) -> Response:
    lang = console_lang(request)
    if await logged_in(request) is not None:
        return RedirectResponse("/admin/", status_code=303)
    response = page(
        request, "console/login.html", None, lang, next=safe_next(request.query_params.get("next"))
    )
    return keep_lang(request, response)


async def login_post(request: Request) -> Response:
    runtime = runtime_of(request)
    lang = console_lang(request)
    form = await checked_form(request, lang)
    if not isinstance(form, FormData):
        return form
    email = (field(form, "email", 254) or "").strip()
    password = field(form, "password", 1000) or ""
    target = safe_next(field(form, "next", 500))
    allowed = limiter(request).allow("ip:" + client_ip(request))
    allowed = limiter(request).allow("email:" + email.lower()) and allowed
    if not allowed:
        return page(request, "console/login.html", None, lang, 429, next=target, error="too_many")
    user = await run_in_threadpool(authenticate, runtime.engine, email, password, runtime.clock())
    if user is None:
        return page(request, "console/login.html", None, lang, 401, next=target, error="bad_login")
    response = RedirectResponse(target, status_code=303)
    cookie = serializer(runtime).dumps(session_of(user))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=is_https(runtime),
        path="/admin",
    )
    return response


@console_page
async def logout(request: Request, admin: Admin) -> Response:
    form = await checked_form(request, admin.lang)
    if not isinstance(form, FormData):
        return form
    await audited(request, admin, "logout")
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


def now_of(request: Request) -> datetime:
    return runtime_of(request).clock()


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/login", login_form, methods=["GET", "HEAD"]),
        Route("/admin/login", login_post, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
    ]

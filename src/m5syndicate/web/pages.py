"""Subscribe and confirm: the double opt-in pages.

`POST /subscribe` answers with the same "check your inbox" page whether the address is
new, pending, confirmed or suppressed, and mails only after the response has gone.
`GET /confirm/{token}` changes nothing: it shows a button that POSTs, so the link
scanners of mail providers cannot confirm anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.errors import InputError
from m5syndicate.models import Category
from m5syndicate.subscribers.links import subscriber_links
from m5syndicate.subscribers.subscriptions import (
    FORMATS,
    MAX_CATEGORIES,
    MAX_EMAIL,
    Consent,
    Preferences,
    available_categories,
    check_confirm_token,
    confirm,
    confirmed_by_used_token,
    subscribe,
)
from m5syndicate.web.i18n import choose_language
from m5syndicate.web.ratelimit import RateLimiter, client_key
from m5syndicate.web.render import (
    account_mail_later,
    checked_form,
    client_ip,
    confirmation_later,
    render,
    runtime_of,
    secret_key,
    text_field,
    user_agent,
)

HONEYPOT = "website"  # hidden from people; bots fill every field
RATE_WINDOW_SECONDS = 600


@dataclass
class FormProblem(Exception):
    key: str  # a key of i18n.TEXT


async def home(request: Request) -> Response:
    """A small front door: subscribe, the archive, the feeds."""
    return render(request, "home.html", language_of(request))


def consent_of(request: Request, version: str) -> Consent:
    return Consent("web", version, client_ip(request), user_agent(request))


def language_of(request: Request, preferred: str | None = None) -> str:
    return choose_language(request, runtime_of(request).settings.site.language, preferred)


def preferences_from(form: FormData, known: list[Category]) -> Preferences:
    """The choices of a subscribe or preferences form; FormProblem when one is not ours."""
    choices = [text_field(form, name, 20) for name in ("language", "cadence", "format")]
    language, cadence, fmt = (choice or "" for choice in choices)
    if language not in LANGUAGES or cadence not in CADENCES or fmt not in FORMATS:
        raise FormProblem("error_choice")
    slugs = form.getlist("categories")
    known_slugs = {category.slug for category in known}
    if len(slugs) > MAX_CATEGORIES or any(slug not in known_slugs for slug in slugs):
        raise FormProblem("error_category")
    return Preferences(language, cadence, fmt, tuple(str(slug) for slug in slugs))


def form_context(prefs: Preferences, known: list[Category], email: str = "") -> dict[str, Any]:
    return {
        "email": email,
        "prefs": prefs,
        "categories": known,
        "languages": LANGUAGES,
        "cadences": CADENCES,
        "formats": FORMATS,
        "max_email": MAX_EMAIL,
    }


async def subscribe_form(request: Request) -> Response:
    runtime = runtime_of(request)
    lang = language_of(request)
    known = await run_in_threadpool(available_categories, runtime.engine)
    prefs = Preferences(language=lang)
    return render(request, "subscribe.html", lang, **form_context(prefs, known))


def limiter(request: Request) -> RateLimiter:
    state = request.app.state
    if getattr(state, "subscribe_limiter", None) is None:
        limit = runtime_of(request).settings.web.subscribe_limit
        state.subscribe_limiter = RateLimiter(limit, RATE_WINDOW_SECONDS)
    found: RateLimiter = state.subscribe_limiter
    return found


async def subscribe_post(request: Request) -> Response:
    runtime = runtime_of(request)
    lang = language_of(request)
    if not limiter(request).allow(client_key(client_ip(request))):
        return render(request, "message.html", lang, 429, kind="too_many")
    form = await checked_form(request, lang)
    if not isinstance(form, FormData):
        return form
    if text_field(form, HONEYPOT, 1000) != "":
        return render(request, "message.html", lang, kind="check")  # a bot: store nothing
    known = await run_in_threadpool(available_categories, runtime.engine)
    email = text_field(form, "email", MAX_EMAIL) or ""
    prefs = Preferences(language=lang)
    try:
        prefs = preferences_from(form, known)
        if text_field(form, "consent", 10) != "yes":
            raise FormProblem("error_consent")
        outcome = await run_in_threadpool(
            subscribe,
            runtime.engine,
            email,
            prefs,
            runtime.clock(),
            consent_of(request, runtime.settings.newsletter.consent_version),
        )
    except (FormProblem, InputError) as exc:
        problem = exc.key if isinstance(exc, FormProblem) else "error_email"
        context = form_context(prefs, known, email[:MAX_EMAIL])
        return render(request, "subscribe.html", lang, 400, error=problem, **context)
    response = render(request, "message.html", lang, kind="check")
    if outcome.confirmation is not None:
        confirmation, now = outcome.confirmation, runtime.clock()
        response.background = confirmation_later(runtime, confirmation, now)
    elif outcome.returning is not None and returning_limiter(request).allow(
        str(outcome.returning.id)
    ):
        # Subscribed already: their own links by mail; the page says the same as ever.
        now = runtime.clock()
        response.background = account_mail_later(runtime, "preferences", outcome.returning, now)
    return response


def returning_limiter(request: Request) -> RateLimiter:
    """One "you are subscribed" mail per subscriber per window: the form must not become
    a way to flood someone's inbox."""
    state = request.app.state
    if getattr(state, "returning_limiter", None) is None:
        state.returning_limiter = RateLimiter(1, RATE_WINDOW_SECONDS)
    found: RateLimiter = state.returning_limiter
    return found


async def confirm_page(request: Request) -> Response:
    runtime = runtime_of(request)
    token = request.path_params["token"]
    pending = await run_in_threadpool(check_confirm_token, runtime.engine, token, runtime.clock())
    if pending is None:
        return await used_link_page(request, token)
    return render(request, "confirm.html", language_of(request, pending.language))


async def used_link_page(request: Request, token: str) -> Response:
    """A spent link of a confirmed subscriber says so and links their preferences; any
    other link that is not good is invalid."""
    runtime = runtime_of(request)
    confirmed = await run_in_threadpool(confirmed_by_used_token, runtime.engine, token)
    if confirmed is None:
        return render(request, "message.html", language_of(request), 404, kind="invalid")
    lang = language_of(request, confirmed.language)
    links = subscriber_links(confirmed.id or 0, confirmed.token_version, "", secret_key(runtime))
    return render(
        request,
        "message.html",
        lang,
        kind="already_confirmed",
        preferences_url=links.preferences_url,
    )


async def confirm_post(request: Request) -> Response:
    runtime = runtime_of(request)
    lang = language_of(request)
    form = await checked_form(request, lang)
    if not isinstance(form, FormData):
        return form
    consent = consent_of(request, runtime.settings.newsletter.consent_version)
    token = request.path_params["token"]
    now = runtime.clock()
    subscriber = await run_in_threadpool(confirm, runtime.engine, token, now, consent)
    if subscriber is None:
        return await used_link_page(request, token)
    lang = language_of(request, subscriber.language)
    links = subscriber_links(subscriber.id or 0, subscriber.token_version, "", secret_key(runtime))
    response = render(
        request, "message.html", lang, kind="confirmed", preferences_url=links.preferences_url
    )
    response.background = account_mail_later(runtime, "welcome", subscriber, now)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/subscribe", subscribe_form, methods=["GET", "HEAD"]),
        Route("/subscribe", subscribe_post, methods=["POST"]),
        Route("/confirm/{token}", confirm_page, methods=["GET", "HEAD"]),
        Route("/confirm/{token}", confirm_post, methods=["POST"]),
    ]

"""Pages reached from a subscriber's own links: preferences, unsubscribe, resubscribe.

Links carry signed tokens (``subscribers/links.py``); a tampered, foreign, revoked or
unknown token gets the one "link not valid" page. `POST /unsubscribe/{token}` with
``List-Unsubscribe=One-Click`` in its body (urlencoded or multipart) is RFC 8058's
one-click unsubscribe: it acts at once, with no cookie, no CSRF field and no redirect,
because mail clients send it without a browser; the page's own button posts the same.
A GET never changes anything.

After a mail client's one-click (no cookie of ours: the mail client acted for the
person) no goodbye mail is sent: the 200 answer is all, and mailing someone who just
left by their client's button is what the bulk-sender rules ask us not to do. After the
page's own button (a person in a browser, who has our cookie) the goodbye mail is still
sent: it holds their link to come back, and they asked on our page.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from m5syndicate.models import Subscriber
from m5syndicate.subscribers.links import Links, subscriber_links
from m5syndicate.subscribers.subscriptions import (
    available_categories,
    change_preferences,
    preferences_of,
    resubscribe,
    subscriber_for_token,
    unsubscribe,
)
from m5syndicate.web import csrf
from m5syndicate.web.i18n import choose_language
from m5syndicate.web.pages import FormProblem, consent_of, form_context, preferences_from
from m5syndicate.web.render import (
    account_mail_later,
    checked_form,
    read_form,
    render,
    runtime_of,
    secret_key,
    text_field,
)


async def token_subscriber(request: Request, purpose: str) -> Subscriber | None:
    runtime = runtime_of(request)
    return await run_in_threadpool(
        subscriber_for_token,
        runtime.engine,
        request.path_params["token"],
        purpose,
        secret_key(runtime),
    )


def page_links(request: Request, subscriber: Subscriber) -> Links:
    """The subscriber's links as paths on this site (forms post only to 'self')."""
    assert subscriber.id is not None
    secret = secret_key(runtime_of(request))
    return subscriber_links(subscriber.id, subscriber.token_version, "", secret)


def invalid(request: Request) -> Response:
    lang = choose_language(request, runtime_of(request).settings.site.language)
    return render(request, "message.html", lang, 404, kind="invalid")


def language_for(request: Request, subscriber: Subscriber) -> str:
    site_language = runtime_of(request).settings.site.language
    return choose_language(request, site_language, preferred=subscriber.language)


async def preferences_response(
    request: Request, subscriber: Subscriber, status: int = 200, **extra: object
) -> Response:
    runtime = runtime_of(request)
    assert subscriber.id is not None
    links = page_links(request, subscriber)
    known = await run_in_threadpool(available_categories, runtime.engine)
    context = form_context(preferences_of(subscriber), known)
    return render(
        request,
        "preferences.html",
        language_for(request, subscriber),
        status,
        subscriber=subscriber,
        links=links,
        token=links.preferences_url.rsplit("/", 1)[1],
        **context,
        **extra,
    )


async def preferences_page(request: Request) -> Response:
    subscriber = await token_subscriber(request, "preferences")
    if subscriber is None:
        return invalid(request)
    return await preferences_response(request, subscriber)


async def posted_form(request: Request) -> tuple[int, Subscriber, FormData] | Response:
    """The subscriber a preferences token names and their checked form, or the page to
    answer with (the same one for every bad token)."""
    subscriber = await token_subscriber(request, "preferences")
    if subscriber is None or subscriber.id is None:
        return invalid(request)
    form = await checked_form(request, language_for(request, subscriber))
    return form if not isinstance(form, FormData) else (subscriber.id, subscriber, form)


async def preferences_post(request: Request) -> Response:
    runtime = runtime_of(request)
    posted = await posted_form(request)
    if isinstance(posted, Response):
        return posted
    subscriber_id, subscriber, form = posted
    known = await run_in_threadpool(available_categories, runtime.engine)
    try:
        prefs = preferences_from(form, known)
    except FormProblem as problem:
        return await preferences_response(request, subscriber, 400, error=problem.key)
    consent = consent_of(request, runtime.settings.newsletter.consent_version)
    changed = await run_in_threadpool(
        change_preferences, runtime.engine, subscriber_id, prefs, runtime.clock(), consent
    )
    return await preferences_response(request, changed, saved=True)


async def resubscribe_post(request: Request) -> Response:
    runtime = runtime_of(request)
    posted = await posted_form(request)
    if isinstance(posted, Response):
        return posted
    subscriber_id, subscriber, _ = posted
    consent = consent_of(request, runtime.settings.newsletter.consent_version)
    await run_in_threadpool(resubscribe, runtime.engine, subscriber_id, runtime.clock(), consent)
    links = page_links(request, subscriber)
    lang = language_for(request, subscriber)
    return render(
        request, "message.html", lang, kind="welcome_back", preferences_url=links.preferences_url
    )


async def unsubscribe_page(request: Request) -> Response:
    subscriber = await token_subscriber(request, "unsubscribe")
    if subscriber is None:
        return invalid(request)
    return render(request, "unsubscribe.html", language_for(request, subscriber))


async def unsubscribe_post(request: Request) -> Response:
    """RFC 8058 one-click, and the page's button: unsubscribe now, answer 200; the
    goodbye mail only after the page's button."""
    runtime = runtime_of(request)
    form = await read_form(request)
    if form is None or text_field(form, "List-Unsubscribe", 20) != "One-Click":
        lang = choose_language(request, runtime.settings.site.language)
        return render(request, "message.html", lang, 400, kind="bad_request")
    subscriber = await token_subscriber(request, "unsubscribe")
    if subscriber is None or subscriber.id is None:
        return invalid(request)
    now = runtime.clock()
    consent = consent_of(request, runtime.settings.newsletter.consent_version)
    by_mail_client = csrf.COOKIE not in request.cookies  # no cookie of ours: its own button
    if by_mail_client:
        consent = replace(consent, via="mail")
    changed = await run_in_threadpool(unsubscribe, runtime.engine, subscriber.id, now, consent)
    links = page_links(request, subscriber)
    response = render(
        request,
        "goodbye.html",
        language_for(request, subscriber),
        resubscribe_action="/resubscribe/" + links.preferences_url.rsplit("/", 1)[1],
    )
    if changed and not by_mail_client:  # the page is the answer to a mail client
        response.background = account_mail_later(runtime, "goodbye", subscriber, now)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/preferences/{token}", preferences_page, methods=["GET", "HEAD"]),
        Route("/preferences/{token}", preferences_post, methods=["POST"]),
        Route("/resubscribe/{token}", resubscribe_post, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "HEAD"]),
        Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
    ]

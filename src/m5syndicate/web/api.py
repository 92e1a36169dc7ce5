"""The admin JSON API under /api/: list and search subscribers, add, show, remove, stats.

Every endpoint but the OpenAPI document needs ``Authorization: Bearer $M5_ADMIN_TOKEN``
(401 otherwise, and always while no token is configured). Errors are JSON
``{"error": "..."}`` with 400, 401, 404 or 413. The endpoints call the same use cases as
`m5syndicate subscribers ...`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.errors import InputError, NotFound
from m5syndicate.models import Subscriber
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.subscriptions import (
    MAX_CATEGORIES,
    MAX_EMAIL,
    MAX_NAME,
    Consent,
    add_subscriber,
    clean_text,
    request_confirmation,
)
from m5syndicate.web.openapi import openapi_document
from m5syndicate.web.render import (
    client_ip,
    confirmation_later,
    runtime_of,
    user_agent,
)

MAX_JSON_BYTES = 64 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def authorized(request: Request) -> bool:
    expected = runtime_of(request).settings.web.admin_token.get_secret_value()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def admin(handler: Handler) -> Handler:
    """Bearer token first; our input and not-found errors become JSON answers."""

    async def guarded(request: Request) -> Response:
        if not authorized(request):
            if not runtime_of(request).settings.web.admin_token.get_secret_value():
                return error(401, "api: the admin API is off; set M5_ADMIN_TOKEN to enable it")
            return error(401, "api: send Authorization: Bearer <M5_ADMIN_TOKEN>")
        try:
            return await handler(request)
        except InputError as exc:
            return error(400, str(exc))
        except NotFound as exc:
            return error(404, str(exc))

    return guarded


def subscriber_json(s: Subscriber) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "language": s.language,
        "cadence": s.cadence,
        "format": s.format,
        "status": s.status,
        "categories": s.categories,
        "created_at": iso(s.created_at),
        "confirmed_at": iso(s.confirmed_at),
        "unsubscribed_at": iso(s.unsubscribed_at),
    }


def int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 10:
        raise InputError(f"{name}: expected a whole number, got {text[:20]!r}")
    return int(text)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


@admin
async def stats(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(roster.stats, runtime_of(request).engine))


@admin
async def list_subscribers(request: Request) -> Response:
    status = request.query_params.get("status") or None
    search = clean_text(request.query_params.get("q", ""), "q", MAX_EMAIL)
    limit, offset = int_param(request, "limit", 100), int_param(request, "offset", 0)
    found = await run_in_threadpool(
        roster.list_subscribers, runtime_of(request).engine, status, search, limit, offset
    )
    items = [subscriber_json(s) for s in found]
    return JSONResponse({"items": items, "limit": limit, "offset": offset})


@admin
async def show_subscriber(request: Request) -> Response:
    record = await run_in_threadpool(
        roster.show, runtime_of(request).engine, request.path_params["subscriber_id"]
    )
    events = [{**e, "at": e["at"].isoformat()} for e in record.events]
    return JSONResponse({**subscriber_json(record.subscriber), "consent_events": events})


@admin
async def remove_subscriber(request: Request) -> Response:
    runtime = runtime_of(request)
    record = await run_in_threadpool(
        roster.show, runtime.engine, request.path_params["subscriber_id"]
    )
    consent = Consent("api", "", client_ip(request), user_agent(request))
    changed = await run_in_threadpool(
        roster.remove, runtime.engine, record.subscriber.email, runtime.clock(), consent
    )
    return JSONResponse({"id": record.subscriber.id, "removed": changed})


@admin
async def unsuppress(request: Request) -> Response:
    runtime = runtime_of(request)
    email = request.path_params["email"]
    consent = Consent("api", "", client_ip(request), user_agent(request))
    reason = await run_in_threadpool(
        roster.unsuppress, runtime.engine, email, runtime.clock(), consent
    )
    if reason is None:
        raise NotFound(f"suppressions: {email[:80]!r} is not suppressed")
    return JSONResponse({"email": email, "unsuppressed": True, "was": reason})


@admin
async def add(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await json_body(request)
    subscriber = subscriber_from(body)
    now = runtime.clock()
    version = runtime.settings.newsletter.consent_version
    new_id, outcome = await run_in_threadpool(
        add_subscriber, runtime.engine, subscriber, now, "api", version
    )
    response = JSONResponse({"id": new_id, "outcome": outcome}, 201 if outcome == "added" else 200)
    if outcome == "added" and subscriber.status == "pending" and new_id is not None:
        confirmation = await run_in_threadpool(request_confirmation, runtime.engine, new_id, now)
        if confirmation is not None:
            response.background = confirmation_later(runtime, confirmation, now)
    return response


async def json_body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_JSON_BYTES:
        raise InputError(f"body: send a JSON object of at most {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"body: not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InputError("body: expected a JSON object")
    return body


def subscriber_from(body: dict[str, Any]) -> Subscriber:
    """A subscriber from a request body; checks types here, values in the use case."""
    allowed = {"email", "name", "language", "cadence", "format", "categories", "confirmed"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(f"body: unknown fields {unknown[:5]}; allowed: {sorted(allowed)}")
    defaults = {"email": None, "name": "", "language": "tr", "cadence": "daily", "format": "html"}
    texts: dict[str, str] = {}
    for key, default in defaults.items():
        value = body.get(key, default)
        if not isinstance(value, str):
            raise InputError(f"{key}: expected a string")
        texts[key] = value
    categories = body.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise InputError("categories: expected a list of category slugs")
    if len(categories) > MAX_CATEGORIES:
        raise InputError(f"categories: at most {MAX_CATEGORIES}")
    confirmed = body.get("confirmed", False)
    if not isinstance(confirmed, bool):
        raise InputError("confirmed: expected true or false")
    subscriber = Subscriber(email=texts["email"], name=clean_text(texts["name"], "name", MAX_NAME))
    return replace(
        subscriber,
        language=texts["language"],
        cadence=texts["cadence"],
        format=texts["format"],
        categories=list(categories),
        status="confirmed" if confirmed else "pending",
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route("/api/subscribers", list_subscribers, methods=["GET"]),
        Route("/api/subscribers", add, methods=["POST"]),
        Route("/api/subscribers/{subscriber_id:int}", show_subscriber, methods=["GET"]),
        Route("/api/subscribers/{subscriber_id:int}", remove_subscriber, methods=["DELETE"]),
        Route("/api/suppressions/{email}", unsuppress, methods=["DELETE"]),
    ]

"""The admin JSON API, a FastAPI app mounted at /api: list and search subscribers, add,
show, remove, stats; the recent editions with their state and pause cause; an
edition's clicks per article. Its OpenAPI document (/api/openapi.json) is generated
from the typed handlers and the models in `api_models`; people read it at /api/docs.

Every endpoint but the document and its page needs ``Authorization: Bearer
$M5_ADMIN_TOKEN`` (401 otherwise, and always while no token is configured). Errors are
JSON ``{"error": "..."}``: bad input 400, token 401, no such subscriber 404, others as
the site maps our error tree (`web.statuses`). The handlers call the same use cases as
`m5syndicate subscribers ...`; they are plain functions, so FastAPI runs them in its
thread pool and the event loop never waits on the database.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from m5syndicate import __version__
from m5syndicate.errors import M5Error, NotFound
from m5syndicate.models import SUBSCRIBER_STATES, Subscriber
from m5syndicate.runtime import Runtime
from m5syndicate.store import clicks as click_store
from m5syndicate.store import editions as edition_store
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.roster import MAX_PAGE
from m5syndicate.subscribers.subscriptions import (
    MAX_EMAIL,
    MAX_NAME,
    Consent,
    add_subscriber,
    clean_text,
    request_confirmation,
)
from m5syndicate.web import apidocs
from m5syndicate.web.api_models import (
    Added,
    ArticleClicksOut,
    ConsentEvent,
    EditionClicks,
    EditionOut,
    Error,
    NewSubscriber,
    Page,
    Removed,
    Stats,
    SubscriberOut,
    SubscriberRecord,
    Unsuppressed,
)
from m5syndicate.web.render import client_ip, confirmation_later, runtime_of, user_agent
from m5syndicate.web.statuses import http_status

PREFIX = "/api"
MAX_JSON_BYTES = 64 * 1024
MAX_OFFSET = 10**9  # the use case's bound
MAX_EDITIONS = 500
MAX_ID = 2**63 - 1  # larger ids overflow the column: none exist

bearer = HTTPBearer(scheme_name="bearer", auto_error=False)


def error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    expected = runtime_of(request).settings.web.admin_token.get_secret_value()
    if not expected:
        raise HTTPException(401, "api: the admin API is off; set M5_ADMIN_TOKEN to enable it")
    given = credentials.credentials.strip() if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "api: send Authorization: Bearer <M5_ADMIN_TOKEN>")


STATES: dict[str, Any] = {"enum": list(SUBSCRIBER_STATES)}
RuntimeOf = Annotated[Runtime, Depends(runtime_of)]
SubscriberId = Annotated[int, Path(ge=1, le=MAX_ID)]
EditionId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # an INTEGER column


def answer(description: str) -> dict[str, Any]:
    return {"model": Error, "description": description}


BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: answer("invalid input; the message says which field and why")
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: answer("no such subscriber")}

router = APIRouter(
    dependencies=[Depends(require_token)],
    responses={401: answer("no or wrong bearer token")},
)


@router.get("/stats", response_model=Stats, summary="Subscribers by status, and suppressed")
def stats(runtime: RuntimeOf) -> dict[str, int]:
    return roster.stats(runtime.engine)


@router.get(
    "/editions",
    response_model=list[EditionOut],
    summary="The recent editions, newest first, with why each paused one is paused",
)
def list_editions(
    runtime: RuntimeOf, limit: Annotated[int, Query(ge=1, le=MAX_EDITIONS)] = 50
) -> list[EditionOut]:
    with runtime.engine.connect() as conn:
        found = edition_store.list_recent_editions(conn, limit)
    return [EditionOut.of(edition) for edition in found]


@router.get(
    "/subscribers",
    response_model=Page,
    summary="List or search subscribers, by id",
    responses=BAD_INPUT,
)
def list_subscribers(
    runtime: RuntimeOf,
    status: Annotated[str | None, Query(json_schema_extra=STATES)] = None,
    q: Annotated[str, Query(max_length=MAX_EMAIL, description="part of address or name")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page:
    search = clean_text(q, "q", MAX_EMAIL)
    found = roster.list_subscribers(runtime.engine, status or None, search, limit, offset)
    return Page(items=[SubscriberOut.of(s) for s in found], limit=limit, offset=offset)


@router.post(
    "/subscribers",
    status_code=201,
    response_model=Added,
    summary="Add one subscriber (an existing or suppressed address is left as is)",
    responses={
        201: {"description": "added"},
        200: {"model": Added, "description": "already there, or suppressed"},
        **BAD_INPUT,
    },
)
def add(
    body: NewSubscriber, runtime: RuntimeOf, response: Response, tasks: BackgroundTasks
) -> Added:
    subscriber = subscriber_from(body)
    now = runtime.clock()
    version = runtime.settings.newsletter.consent_version
    new_id, outcome = add_subscriber(runtime.engine, subscriber, now, "api", version)
    if outcome != "added":
        response.status_code = 200
    elif subscriber.status == "pending" and new_id is not None:
        confirmation = request_confirmation(runtime.engine, new_id, now)
        if confirmation is not None:
            tasks.add_task(confirmation_later(runtime, confirmation, now))
    return Added(id=new_id, outcome=outcome)


def subscriber_from(body: NewSubscriber) -> Subscriber:
    """The model's fields as a Subscriber; the use case checks the choices."""
    subscriber = Subscriber(email=body.email, name=clean_text(body.name, "name", MAX_NAME))
    return replace(
        subscriber,
        language=body.language,
        cadence=body.cadence,
        format=body.format,
        categories=list(body.categories),
        status="confirmed" if body.confirmed else "pending",
    )


@router.get(
    "/subscribers/{subscriber_id}",
    response_model=SubscriberRecord,
    summary="One subscriber with its consent events",
    responses={**NOT_FOUND, **BAD_INPUT},
)
def show_subscriber(subscriber_id: SubscriberId, runtime: RuntimeOf) -> SubscriberRecord:
    record = roster.show(runtime.engine, subscriber_id)
    events = [ConsentEvent(**event) for event in record.events]
    shown = SubscriberOut.of(record.subscriber).model_dump()
    return SubscriberRecord(**shown, consent_events=events)


@router.delete(
    "/subscribers/{subscriber_id}",
    response_model=Removed,
    summary="Unsubscribe (the consent record is kept; `subscribers forget` erases)",
    responses={**NOT_FOUND, **BAD_INPUT},
)
def remove_subscriber(subscriber_id: SubscriberId, runtime: RuntimeOf, request: Request) -> Removed:
    record = roster.show(runtime.engine, subscriber_id)
    consent = Consent("api", "", client_ip(request), user_agent(request))
    changed = roster.remove(runtime.engine, record.subscriber.email, runtime.clock(), consent)
    return Removed(id=subscriber_id, removed=changed)


@router.delete(
    "/suppressions/{email}",
    response_model=Unsuppressed,
    summary="Undo a suppression (recorded as a consent event; the subscription stays ended)",
    responses={404: answer("the address is not suppressed"), **BAD_INPUT},
)
def unsuppress(
    email: Annotated[str, Path(max_length=MAX_EMAIL)], runtime: RuntimeOf, request: Request
) -> Unsuppressed:
    consent = Consent("api", "", client_ip(request), user_agent(request))
    reason = roster.unsuppress(runtime.engine, email, runtime.clock(), consent)
    if reason is None:
        raise NotFound(f"suppressions: {email[:80]!r} is not suppressed")
    return Unsuppressed(email=email, was=reason)


@router.get(
    "/editions/{edition_id}/clicks",
    response_model=EditionClicks,
    summary="Clicks per article of one edition, most clicked first (counts only)",
    responses={404: answer("no such edition"), **BAD_INPUT},
)
def edition_clicks(edition_id: EditionId, runtime: RuntimeOf) -> EditionClicks:
    with runtime.engine.connect() as conn:
        edition = edition_store.get_edition(conn, edition_id)
        if edition is None:
            raise NotFound(f"editions: no edition {edition_id}")
        rows = click_store.clicks_by_article(conn, edition_id)
    return EditionClicks(
        edition_id=edition_id,
        slug=edition.slug,
        state=edition.state,
        total=sum(row.clicks for row in rows),
        articles=[ArticleClicksOut(**vars(row)) for row in rows],
    )


# -- errors -------------------------------------------------------------------------------


async def our_error(_request: Request, exc: Exception) -> JSONResponse:
    return error(http_status(exc), str(exc))


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors, as our 400 with one line per field (FastAPI's 422
    and its error schema are taken out of the document: `AdminAPI.openapi`)."""
    assert isinstance(exc, RequestValidationError)
    return error(400, validation_message(exc))


def validation_message(exc: RequestValidationError) -> str:
    problems = []
    for problem in exc.errors()[:5]:
        # loc is (source, field, ...): the source (body, query, path) is said by the field.
        source, *where = [str(part) for part in problem.get("loc", ("body",))]
        problems.append(f"{'.'.join(where) or source}: {problem.get('msg', 'invalid')}")
    return "; ".join(problems)


class BoundedBody:
    """Refuses a body of unknown length or above MAX_JSON_BYTES before reading any of it
    (FastAPI reads the whole body before a dependency could look at its size)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            length = Headers(scope=scope).get("content-length", "")
            if not length.isdigit() or int(length) > MAX_JSON_BYTES:
                message = f"body: send a JSON object of at most {MAX_JSON_BYTES} bytes"
                await error(400, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AdminAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's document without the 422 answers we never give (see `invalid_request`)."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()
        for operations in document["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(unused, None)
        return document


def operation_id(route: APIRoute) -> str:
    """The handler's name ("list_subscribers"), not FastAPI's name_path_method."""
    return route.name


def create_api(runtime: Runtime | None) -> FastAPI:
    """The API app; `runtime` None gives one that can only serve its document."""
    api = AdminAPI(
        title="m5syndicate admin API",
        version=__version__,
        servers=[{"url": PREFIX}],
        openapi_url="/openapi.json",
        docs_url=None,  # our page: assets from the installed package, a strict CSP
        redoc_url=None,
        generate_unique_id_function=operation_id,
        routes=apidocs.routes(),
        exception_handlers={
            M5Error: our_error,
            HTTPException: http_error,
            RequestValidationError: invalid_request,
        },
    )
    api.include_router(router)
    api.add_middleware(BoundedBody)
    api.state.runtime = runtime
    return api


def openapi_document() -> dict[str, Any]:
    return create_api(None).openapi()

"""Subscribers: search and filter, one subscriber's deliveries and consent history,
suppress, forget, CSV import (each bad line shown, the good ones kept) and export."""

from __future__ import annotations

import io
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.models import SUBSCRIBER_STATES
from m5syndicate.runtime import Runtime
from m5syndicate.store import activity
from m5syndicate.subscribers import roster
from m5syndicate.subscribers.csvio import (
    DecodedLines,
    Defaults,
    ImportReport,
    export_subscribers,
    import_subscribers,
)
from m5syndicate.subscribers.subscriptions import Consent
from m5syndicate.web import csrf
from m5syndicate.web.console.auth import Admin, audited, console_page, page
from m5syndicate.web.render import checked_form, runtime_of, secret_key, text_field

MAX_CSV_BYTES = 20 * 1024 * 1024


@console_page
async def subscriber_list(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    search = request.query_params.get("q", "")[:254]
    status = request.query_params.get("status", "")
    chosen = status if status in SUBSCRIBER_STATES else None
    found = await run_in_threadpool(roster.list_subscribers, runtime.engine, chosen, search, 200)
    return page(
        request,
        "console/subscribers.html",
        admin,
        admin.lang,
        subscribers=found,
        q=search,
        chosen=chosen or "",
        states=SUBSCRIBER_STATES,
    )


def record_of(runtime: Runtime, subscriber_id: int) -> dict[str, Any]:
    record = roster.show(runtime.engine, subscriber_id)
    with runtime.engine.connect() as conn:
        sent = activity.deliveries_of_subscriber(conn, subscriber_id)
    return {"record": record, "deliveries": sent}


@console_page
async def subscriber_page(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    data = await run_in_threadpool(record_of, runtime, request.path_params["subscriber_id"])
    return page(request, "console/subscriber.html", admin, admin.lang, **data)


async def email_from_form(request: Request, admin: Admin) -> str | Response:
    form = await checked_form(request, admin.lang)
    if not isinstance(form, FormData):
        return form
    return text_field(form, "email", 254) or ""


@console_page
async def suppress(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    email = await email_from_form(request, admin)
    if not isinstance(email, str):
        return email
    consent = Consent("admin", ip="", user_agent=admin.user.email)
    reason = f"suppressed by {admin.user.email} in the console"
    await run_in_threadpool(
        roster.suppress, runtime.engine, email, runtime.clock(), consent, reason
    )
    await audited(request, admin, "subscriber_suppress", email)
    return RedirectResponse(
        f"/admin/subscribers/{request.path_params['subscriber_id']}", status_code=303
    )


@console_page
async def forget(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    email = await email_from_form(request, admin)
    if not isinstance(email, str):
        return email
    await run_in_threadpool(roster.forget, runtime.engine, email, runtime.clock(), "admin")
    # The address itself is gone; the log keeps only that someone was forgotten.
    await audited(request, admin, "subscriber_forget", f"#{request.path_params['subscriber_id']}")
    return RedirectResponse("/admin/subscribers", status_code=303)


@console_page
async def import_form(request: Request, admin: Admin) -> Response:
    return page(request, "console/import.html", admin, admin.lang, report=None)


async def uploaded(request: Request) -> tuple[str, bytes] | None:
    """(the CSRF field, the file's bytes) of the import form; None when malformed or big."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_CSV_BYTES:
        return None
    try:
        async with request.form(
            max_files=1, max_fields=5, max_part_size=MAX_CSV_BYTES
        ) as form:  # closes the spooled upload when done
            upload = form.get("file")
            token = form.get(csrf.FIELD, "")
            if not isinstance(upload, UploadFile) or not isinstance(token, str):
                return None
            return token, await upload.read()
    except HTTPException:
        return None


def run_import(runtime: Runtime, data: bytes) -> ImportReport:
    lines = DecodedLines(io.BytesIO(data))
    return import_subscribers(
        runtime.engine,
        lines,
        runtime.clock(),
        via="admin",
        consent_version=runtime.settings.newsletter.consent_version,
        defaults=Defaults(language=runtime.settings.site.language),
    )


@console_page
async def import_post(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    found = await uploaded(request)
    if found is None:
        return page(request, "message.html", admin, admin.lang, 400, kind="bad_request")
    token, data = found
    if not csrf.is_valid(request, token, secret_key(runtime)):
        return page(request, "message.html", admin, admin.lang, 403, kind="forbidden")
    report = await run_in_threadpool(run_import, runtime, data)
    detail = f"added {report.added}, existing {report.existing}, bad {len(report.errors)}"
    await audited(request, admin, "subscribers_import", f"{len(data)} bytes", detail)
    return page(request, "console/import.html", admin, admin.lang, report=report)


@console_page
async def export(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)

    def written() -> str:
        out = io.StringIO()
        export_subscribers(runtime.engine, out)
        return out.getvalue()

    body = await run_in_threadpool(written)
    await audited(request, admin, "subscribers_export")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


def routes() -> list[BaseRoute]:
    one = "/admin/subscribers/{subscriber_id:int}"
    return [
        Route("/admin/subscribers", subscriber_list, methods=["GET", "HEAD"]),
        Route("/admin/subscribers/import", import_form, methods=["GET", "HEAD"]),
        Route("/admin/subscribers/import", import_post, methods=["POST"]),
        Route("/admin/subscribers/export", export, methods=["POST"]),
        Route(one, subscriber_page, methods=["GET", "HEAD"]),
        Route(one + "/suppress", suppress, methods=["POST"]),
        Route(one + "/forget", forget, methods=["POST"]),
    ]

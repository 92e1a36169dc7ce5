"""Editions: the list, and one edition's page (frozen articles, each variant's preview,
progress and forecast) with test send, pause, resume and retry failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.delivery import holds
from m5syndicate.delivery.preview import (
    Preview,
    plan_edition,
    render_preview,
    sample_recipient,
    send_test,
)
from m5syndicate.delivery.send import SendParts
from m5syndicate.errors import InputError, M5Error, NotFound
from m5syndicate.models import Edition
from m5syndicate.runtime import Runtime
from m5syndicate.store import clicks as click_store
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.subscribers.links import LinkSigner
from m5syndicate.web.archive import edition_name
from m5syndicate.web.console.auth import Admin, audited, console_page, page
from m5syndicate.web.console.overview import progress_of
from m5syndicate.web.render import checked_form, runtime_of

PAUSABLE = holds.ADMIN_HOLDABLE  # "held": no sender picks it up until resumed


@dataclass(frozen=True)
class VariantPreview:
    language: str
    format: str
    recipients: int
    subject: str
    html: str | None
    text: str


def edition_of(runtime: Runtime, edition_id: int) -> Edition:
    with runtime.engine.connect() as conn:
        edition = edition_store.get_edition(conn, edition_id)
    if edition is None:
        raise NotFound(f"console: no edition {edition_id}")
    return edition


def preview_parts(runtime: Runtime) -> SendParts:
    """Send parts whose article links lead straight to the articles: an admin's clicks
    in a preview or a test mail are not readers' clicks."""
    site, web = runtime.settings.site, runtime.settings.web
    links = LinkSigner(site.public_url, web.secret_key.get_secret_value(), count_clicks=False)
    return runtime.send_parts(runtime.transport, links=links)


def previews_of(runtime: Runtime, edition: Edition) -> list[VariantPreview]:
    """One preview per language and format the edition goes out in (each for a reader of
    every category), or one per language when nobody is subscribed yet."""
    with runtime.engine.connect() as conn:
        plan = plan_edition(conn, edition, runtime.settings)
    counts: dict[tuple[str, str], int] = {}
    for variant in plan.variants:
        key = (variant.language, variant.format)
        counts[key] = counts.get(key, 0) + variant.recipients
    languages = sorted({a.language for a in edition.articles})
    keys = sorted(counts) or [(lang, "html") for lang in languages]
    parts = preview_parts(runtime)
    found = []
    for language, fmt in keys:
        try:
            shown = render_preview(parts, edition, sample_recipient(language, fmt), runtime.clock())
        except InputError:
            continue  # nothing in this language
        found.append(
            VariantPreview(
                language,
                fmt,
                counts.get((language, fmt), 0),
                shown.subject,
                shown.html if fmt == "html" else None,
                shown.text,
            )
        )
    return found


def detail_data(runtime: Runtime, edition_id: int) -> dict[str, Any]:
    edition = edition_of(runtime, edition_id)
    with runtime.engine.connect() as conn:
        failures = ledger.failed_deliveries(conn, edition_id)
        clicks = click_store.clicks_by_article(conn, edition_id)
    return {
        "clicks": clicks,
        "clicks_total": sum(row.clicks for row in clicks),
        "tracking": runtime.settings.tracking.clicks,
        "edition": edition,
        "progress": progress_of(runtime, edition),
        "previews": previews_of(runtime, edition),
        "failures": failures[:50],
        "pausable": edition.state in PAUSABLE,
    }


@console_page
async def edition_list(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)

    def listed() -> list[Edition]:
        with runtime.engine.connect() as conn:
            return edition_store.list_recent_editions(conn, 100)

    found = await run_in_threadpool(listed)
    zone = runtime.settings.site.timezone
    names = {e.id: edition_name(e, admin.lang, zone) for e in found}
    return page(request, "console/editions.html", admin, admin.lang, editions=found, names=names)


@console_page
async def edition_page(request: Request, admin: Admin) -> Response:
    runtime = runtime_of(request)
    data = await run_in_threadpool(detail_data, runtime, request.path_params["edition_id"])
    done = request.query_params.get("done", "")
    return page(request, "console/edition.html", admin, admin.lang, done=done, **data)


def change_state(runtime: Runtime, edition_id: int, action: str, admin: str) -> str:
    """pause (hold) / resume / retry; the edition's slug (for the audit log)."""
    edition = edition_of(runtime, edition_id)
    if action == "pause":
        holds.hold_by_admin(runtime.engine, edition_id, admin)
    elif action == "resume":
        holds.resume(runtime.engine, edition_id)
    elif action == "retry":
        with runtime.engine.begin() as conn:
            ledger.retry_failed(conn, edition_id)
            edition_store.reopen_done(conn, edition_id)
    return edition.slug


async def edition_action(request: Request, admin: Admin, action: str) -> Response:
    runtime = runtime_of(request)
    form = await checked_form(request, admin.lang)
    if not isinstance(form, FormData):
        return form
    edition_id = request.path_params["edition_id"]
    slug = await run_in_threadpool(change_state, runtime, edition_id, action, admin.user.email)
    await audited(request, admin, f"edition_{action}", slug)
    return RedirectResponse(f"/admin/editions/{edition_id}?done={action}", status_code=303)


@console_page
async def pause(request: Request, admin: Admin) -> Response:
    return await edition_action(request, admin, "pause")


@console_page
async def resume(request: Request, admin: Admin) -> Response:
    return await edition_action(request, admin, "resume")


@console_page
async def retry(request: Request, admin: Admin) -> Response:
    return await edition_action(request, admin, "retry")


@console_page
async def test(request: Request, admin: Admin) -> Response:
    """The edition as one language and format's readers get it, to the admin's address."""
    runtime = runtime_of(request)
    form = await checked_form(request, admin.lang)
    if not isinstance(form, FormData):
        return form
    edition_id = request.path_params["edition_id"]
    language = str(form.get("language", ""))
    fmt = "text" if form.get("format") == "text" else "html"
    edition = await run_in_threadpool(edition_of, runtime, edition_id)
    to = admin.user.email

    def made() -> Preview:
        recipient = sample_recipient(language, fmt)
        return render_preview(
            preview_parts(runtime), edition, recipient, runtime.clock(), to=to, test=True
        )

    outcome = "test"
    try:
        await send_test(preview_parts(runtime), await run_in_threadpool(made), to)
    except M5Error:
        outcome = "test_failed"
    await audited(request, admin, "edition_test_send", edition.slug, f"{language}/{fmt} to {to}")
    return RedirectResponse(f"/admin/editions/{edition_id}?done={outcome}", status_code=303)


def routes() -> list[BaseRoute]:
    base = "/admin/editions/{edition_id:int}"
    return [
        Route("/admin/editions", edition_list, methods=["GET", "HEAD"]),
        Route(base, edition_page, methods=["GET", "HEAD"]),
        Route(base + "/pause", pause, methods=["POST"]),
        Route(base + "/resume", resume, methods=["POST"]),
        Route(base + "/retry", retry, methods=["POST"]),
        Route(base + "/test", test, methods=["POST"]),
    ]

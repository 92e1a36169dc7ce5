"""`create_app(runtime)`: the ASGI app. Each module of this package contributes routes;
the admin API is a FastAPI app mounted at /api. This file only assembles them; errors
become HTTP statuses by one table (`statuses`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount

from m5syndicate.errors import M5Error
from m5syndicate.logs import redact_access_log
from m5syndicate.runtime import Runtime
from m5syndicate.web import (
    account,
    api,
    archive,
    bounces,
    clicks,
    console,
    feeds,
    health,
    ops,
    pages,
)
from m5syndicate.web.guards import BodyLimit, CleanTarget, PublicRedirects
from m5syndicate.web.statuses import http_status


def create_app(runtime: Runtime, scheduler: health.SchedulerState | None = None) -> Starlette:
    """The app on `runtime`; `scheduler` is given by `run` (its state shows in /healthz)."""
    redact_access_log()
    app = Starlette(
        routes=[
            *health.routes(),
            *feeds.routes(),
            *pages.routes(),
            *account.routes(),
            *ops.routes(),  # before the API's mount: /api/hooks/ is not the admin API
            *archive.routes(),
            *clicks.routes(),
            *bounces.routes(),  # before the API's mount too: /api/hooks/bounces/...
            *console.routes(),
            Mount(api.PREFIX, app=api.create_api(runtime)),
        ],
        exception_handlers={M5Error: handle_error},
        middleware=[
            Middleware(CleanTarget),
            Middleware(BodyLimit),
            Middleware(PublicRedirects, public_url=runtime.settings.site.public_url),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.scheduler = scheduler
    return app


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Close what lives in the server's event loop (the collectors' HTTP client)."""
    yield
    await app.state.runtime.aclose()


async def handle_error(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(str(exc), status_code=http_status(exc))

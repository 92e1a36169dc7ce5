"""`create_app(runtime)`: the ASGI app. Each module of this package contributes routes;
this file only assembles them and maps errors to HTTP statuses in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from m5syndicate.errors import InputError, M5Error, NotFound
from m5syndicate.logs import redact_access_log
from m5syndicate.runtime import Runtime
from m5syndicate.web import account, api, archive, console, feeds, health, ops, pages

# Our errors -> HTTP statuses; anything else is a 500 logged by the server.
STATUS_BY_ERROR: tuple[tuple[type[M5Error], int], ...] = (
    (NotFound, 404),
    (InputError, 400),
    (M5Error, 503),
)


def create_app(runtime: Runtime, scheduler: health.SchedulerState | None = None) -> Starlette:
    """The app on `runtime`; `scheduler` is given by `run` (its state shows in /healthz)."""
    redact_access_log()
    app = Starlette(
        routes=[
            *health.routes(),
            *feeds.routes(),
            *pages.routes(),
            *account.routes(),
            *api.routes(),
            *ops.routes(),
            *archive.routes(),
            *console.routes(),
        ],
        exception_handlers={M5Error: handle_error},
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
    status = next(code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind))
    return PlainTextResponse(str(exc), status_code=status)

"""`create_app(runtime)`: the ASGI app. Each module of this package contributes routes;
this file only assembles them and maps errors to HTTP statuses in one place."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from m5syndicate.errors import InputError, M5Error, NotFound
from m5syndicate.runtime import Runtime
from m5syndicate.web import archive, health

# Our errors -> HTTP statuses; anything else is a 500 logged by the server.
STATUS_BY_ERROR: tuple[tuple[type[M5Error], int], ...] = (
    (NotFound, 404),
    (InputError, 400),
    (M5Error, 503),
)


def create_app(runtime: Runtime) -> Starlette:
    app = Starlette(
        routes=[*health.routes(), *archive.routes()],
        exception_handlers={M5Error: handle_error},
    )
    app.state.runtime = runtime
    return app


async def handle_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind))
    return PlainTextResponse(str(exc), status_code=status)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime

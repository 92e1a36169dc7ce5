"""`GET /healthz`: is the database reachable and the schema current."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from m5syndicate.errors import StoreError
from m5syndicate.store import migrate


async def healthz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    try:
        migrate.require_current(runtime.engine)
    except StoreError as exc:
        return JSONResponse({"ok": False, "database": str(exc)}, status_code=503)
    return JSONResponse({"ok": True, "database": "ok"})


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET", "HEAD"])]

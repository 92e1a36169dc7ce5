"""Operations endpoints: `GET /metrics` (Prometheus) and `POST /api/hooks/wordpress`.

The WordPress hook makes an immediate collection of the matching source, so a published
post reaches the feeds (and instant subscribers) in seconds instead of the poll
interval. It has its own secret (``M5_WEBHOOK_SECRET``), given as the
``X-M5-Webhook-Secret`` header or, for plugins that cannot set headers, ``?secret=``;
``?source=NAME`` picks the source (default: every wordpress source). It answers 202 at
once and collects in the background. Calls that come while a source is being collected
coalesce: they ask for at most one more collection of it, run when the current one ends
(a post published during a run may have been missed by it; thirty pings made thirty
WordPress fetches before).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m5syndicate.errors import M5Error
from m5syndicate.flows import collect_and_notify
from m5syndicate.runtime import Runtime
from m5syndicate.web.render import runtime_of

log = logging.getLogger("m5.web")
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: Request) -> Response:
    runtime = runtime_of(request)
    return Response(runtime.metrics.exposition(), media_type=PROMETHEUS_TYPE)


def secret_matches(request: Request, expected: str) -> bool:
    given = request.headers.get("x-m5-webhook-secret") or request.query_params.get("secret", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def wordpress_hook(request: Request) -> Response:
    runtime = runtime_of(request)
    if not secret_matches(request, runtime.settings.web.webhook_secret.get_secret_value()):
        return JSONResponse({"error": "unknown or missing webhook secret"}, status_code=401)
    names = hook_sources(runtime, request.query_params.get("source"))
    if not names:
        return JSONResponse({"error": "no such wordpress source"}, status_code=404)
    task = BackgroundTask(collect_now, runtime, names, hook_collections(request))
    return JSONResponse({"collecting": names}, status_code=202, background=task)


def hook_sources(runtime: Runtime, wanted: str | None) -> list[str]:
    sources = [s for s in runtime.settings.sources if s.type == "wordpress" and s.enabled]
    return [s.name for s in sources if wanted in (None, s.name)]


@dataclass
class Coalesced:
    """Per source: whether a collection runs, and whether another was asked for meanwhile.
    Only touched from the server's event loop, so it needs no lock."""

    running: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)

    async def collect(self, name: str, run: Callable[[str], Awaitable[None]]) -> None:
        """Run `run(name)` now, or, when one is running, make it run once more after."""
        if name in self.running:
            self.pending.add(name)
            return
        self.running.add(name)
        try:
            while True:
                self.pending.discard(name)
                await run(name)
                if name not in self.pending:
                    return
        finally:
            self.running.discard(name)


def hook_collections(request: Request) -> Coalesced:
    state = request.app.state
    if getattr(state, "hook_collections", None) is None:
        state.hook_collections = Coalesced()
    found: Coalesced = state.hook_collections
    return found


async def collect_now(runtime: Runtime, names: list[str], coalesced: Coalesced) -> None:
    """Collect the hooked sources (then feeds, then the instant edition), each at most
    once at a time; failures are on the source rows, as always."""

    async def collect(name: str) -> None:
        try:
            await collect_and_notify(
                runtime.collect_parts(),
                runtime.sending,
                runtime.clock,
                asyncio.Event(),
                only=name,
            )
        except M5Error as exc:
            log.warning("webhook collection of %s failed: %s", name, exc, extra={"source": name})

    for name in names:
        await coalesced.collect(name, collect)


def routes() -> list[BaseRoute]:
    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/hooks/wordpress", wordpress_hook, methods=["POST"]),
    ]

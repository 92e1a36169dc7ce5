"""The admin console under /admin: server-rendered pages, a signed session cookie, CSRF on
every form, and every action in the audit log."""

from __future__ import annotations

from starlette.routing import BaseRoute

from m5syndicate.web.console import auth, editions, overview, people


def routes() -> list[BaseRoute]:
    return [*auth.routes(), *overview.routes(), *editions.routes(), *people.routes()]

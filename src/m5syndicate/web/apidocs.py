"""/api/docs: the admin API's document for people (Swagger UI), with no outside assets.

FastAPI's own page loads Swagger UI from a CDN, which a closed network cannot reach and
a strict Content-Security-Policy should not allow. The assets come from the installed
`fastapi-offline` package (Swagger UI 5: it reads the OpenAPI 3.1 FastAPI writes; the
4.x shipped by `swagger-ui-bundle` cannot). The page has no inline script, so the CSP
allows scripts from this site only.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from m5syndicate.web.render import HEADERS

ASSETS = Path(fastapi_offline.__file__).parent / "static"

# Swagger UI styles elements inline and draws icons from data: URIs; "Try it out" calls
# the API on this site (connect-src).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {**HEADERS, "Content-Security-Policy": CSP}

# Relative URLs: the page is /api/docs, wherever the API is mounted.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>m5syndicate admin API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" href="docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""
START = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
"""


async def page(_request: Request) -> Response:
    return HTMLResponse(PAGE, headers=PAGE_HEADERS)


async def start(_request: Request) -> Response:
    return Response(START, media_type="text/javascript", headers=PAGE_HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/docs", page, methods=["GET", "HEAD"]),
        Route("/docs/start.js", start, methods=["GET", "HEAD"]),
        Mount("/docs/assets", StaticFiles(directory=ASSETS), name="api-docs-assets"),
    ]

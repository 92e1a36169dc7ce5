"""`m5syndicate serve`."""

from __future__ import annotations

import click
import uvicorn

from m5syndicate.cli.base import Context, main, pass_context
from m5syndicate.config import MAKE_SECRET_KEY
from m5syndicate.errors import ConfigError
from m5syndicate.web.app import create_app
from m5syndicate.web.serving import server_options


@main.command()
@click.option("--host", help="Address to listen on [default: [web] host].")
@click.option("--port", type=int, help="Port to listen on [default: [web] port].")
@pass_context
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the web app: feeds, subscription pages, archive, admin API, /healthz."""
    runtime = obj.runtime()
    obj.warn_about_setup(runtime.settings)
    settings = runtime.settings.web
    if not settings.secret_key.get_secret_value():
        raise ConfigError(
            "serve: M5_SECRET_KEY is not set; the subscription pages sign links and forms "
            f"with it. Set it to a long random value ({MAKE_SECRET_KEY}) and keep it "
            "across restarts"
        )
    uvicorn.run(
        create_app(runtime),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        **server_options(settings),
    )

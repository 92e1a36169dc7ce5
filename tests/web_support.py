"""A running web app for tests: real uvicorn on a loopback port, its own database (the
`engine` fixture's), an outbox Maildir, and helpers to read the mails it sent."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.engine import Engine

from m5syndicate.config import load_settings
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.models import Category
from m5syndicate.runtime import Runtime
from m5syndicate.store.articles import category_id
from m5syndicate.web.app import create_app
from m5syndicate.web.serving import HEADER_TIMEOUT_SECONDS, server_options
from tests.servers import UvicornThread, free_port

SECRET = "test-secret-key-0123456789abcdef"
ADMIN_TOKEN = "test-admin-token"
CATEGORIES = (Category("defence-news", "Defence News"), Category("one-cikan", "Öne Çıkan"))


def database_url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def add_categories(engine: Engine) -> None:
    with engine.begin() as conn:
        for category in CATEGORIES:
            category_id(conn, category)


@dataclass
class Site:
    runtime: Runtime
    url: str
    outbox: OutboxTransport

    def mails(self) -> list[EmailMessage]:
        found = []
        for path in self.outbox.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def wait_for_mails(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """Mails go out after the response (a background task): wait for them."""
        deadline = time.monotonic() + timeout
        while len(self.outbox.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.mails()

    def link_in(self, message: EmailMessage, path: str) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        match = re.search(re.escape(self.url) + re.escape(path) + r"[^\s]+", text)
        assert match, f"no {path} link in:\n{text}"
        return match.group(0)


@contextmanager
def running_site(
    engine: Engine, folder: Path, header_timeout: float = HEADER_TIMEOUT_SECONDS, **env: str
) -> Iterator[Site]:
    """The app served as `serve` serves it (`server_options`), on a loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        None,
        env={
            "M5_DATABASE__URL": database_url_of(engine),
            "M5_DELIVERY__OUTBOX_DIR": str(folder / "outbox"),
            "M5_SITE__PUBLIC_URL": url,
            "M5_SECRET_KEY": SECRET,
            "M5_ADMIN_TOKEN": ADMIN_TOKEN,
            **env,
        },
    )
    runtime = Runtime(settings)
    add_categories(runtime.engine)
    try:
        options = server_options(settings.web, header_timeout)
        with UvicornThread(create_app(runtime), port=port, **options):
            yield Site(runtime, url, OutboxTransport(folder / "outbox"))
    finally:
        runtime.close()

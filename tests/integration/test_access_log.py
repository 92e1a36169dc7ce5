"""The access log of a real server never shows a link token or a webhook secret."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from m5syndicate.config import load_settings
from m5syndicate.logs import redact
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.servers import UvicornThread
from tests.web_support import SECRET, database_url_of


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/unsubscribe/12.abcDEF-xyz", "/unsubscribe/********"),
        ("/confirm/7.s3cr3t?x=1", "/confirm/********?x=1"),
        ("/preferences/3.tok/", "/preferences/********/"),
        ("/api/hooks/wordpress?source=wp&secret=hunter2", "?source=wp&secret=********"),
        ("/feeds/all-tr.atom", "/feeds/all-tr.atom"),
    ],
)
def test_redact(path: str, shown: str) -> None:
    assert shown in redact(path)


def test_access_log_lines_are_redacted(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={
            "M5_DATABASE__URL": database_url_of(sqlite_engine),
            "M5_SECRET_KEY": SECRET,
            "M5_WEBHOOK_SECRET": "hook-secret-value",
            "M5_DELIVERY__OUTBOX_DIR": str(tmp_path / "outbox"),
        },
    )
    runtime = Runtime(settings)
    lines = Lines()
    access = logging.getLogger("uvicorn.access")
    try:
        with UvicornThread(create_app(runtime), log_level="info") as server:
            access.addHandler(lines)
            httpx.get(f"{server.url}/unsubscribe/1.live-token-abc")
            httpx.get(f"{server.url}/confirm/2.another-token")
            httpx.post(f"{server.url}/api/hooks/wordpress?secret=hook-secret-value", json={})
    finally:
        access.removeHandler(lines)
        runtime.close()
    logged = "\n".join(lines.lines)
    assert "/unsubscribe/********" in logged and "/confirm/********" in logged
    for secret in ("live-token-abc", "another-token", "hook-secret-value"):
        assert secret not in logged

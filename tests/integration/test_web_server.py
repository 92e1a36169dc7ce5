"""The app over a real socket: uvicorn on a loopback port."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from m5syndicate.config import load_settings
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.servers import UvicornThread


def test_healthz_over_http(sqlite_engine: Engine) -> None:
    settings = load_settings(None, env={"M5_DATABASE__URL": str(sqlite_engine.url)})
    runtime = Runtime(settings)
    with UvicornThread(create_app(runtime)) as server:
        response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "last_collection_age_seconds": None}


def test_healthz_is_503_without_schema(tmp_path: Path) -> None:
    settings = load_settings(None, env={"M5_DATABASE__URL": f"sqlite:///{tmp_path / 'e.db'}"})
    with UvicornThread(create_app(Runtime(settings))) as server:
        response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert "db upgrade" in response.json()["database"]

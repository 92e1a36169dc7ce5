"""The demo's folder stands alone: its config names only paths inside it, `collect` works
on it, and `serve` on it shows a green /healthz and a front page in the visitor's
language."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import httpx

from m5syndicate.config import load_settings
from m5syndicate.demo import run_demo
from m5syndicate.runtime import Runtime
from m5syndicate.web.app import create_app
from tests.integration.test_cli import m5
from tests.servers import UvicornThread


def paths_in(config: dict[str, object]) -> list[str]:
    found = [config["database"]["url"].removeprefix("sqlite:///")]  # type: ignore[index]
    found += [config["delivery"]["outbox_dir"], config["feeds"]["out_dir"]]  # type: ignore[index]
    found += [source["url"] for source in config["sources"]]  # type: ignore[attr-defined]
    return [str(p) for p in found]


def test_demo_config_names_only_its_own_folder(tmp_path: Path) -> None:
    folder = (tmp_path / "demo").resolve()
    report = run_demo(folder)
    assert report.config_path is not None
    config = tomllib.loads(report.config_path.read_text(encoding="utf-8"))
    for path in paths_in(config):
        assert Path(path).is_relative_to(folder), path
    assert len(list((folder / "articles").glob("*.md"))) == 20
    # collect on that config, as the README's next step does (the package's own copy of
    # the articles plays no part any more)
    collected = m5("--config", str(report.config_path), "collect", "--force")
    assert collected.returncode == 0, collected.stderr
    (row,) = [line.split() for line in collected.stdout.splitlines() if line.startswith("demo")]
    assert row == ["demo", "0", "0", "20", "ok"]


def test_serve_on_the_demo_is_healthy_and_has_a_front_page(tmp_path: Path) -> None:
    report = run_demo(tmp_path / "demo")
    assert report.config_path and report.secret_path
    secret = report.secret_path.read_text(encoding="utf-8").strip()
    settings = load_settings(report.config_path, env={"M5_SECRET_KEY": secret})
    runtime = Runtime(settings)
    try:
        with UvicornThread(create_app(runtime)) as server:
            health = httpx.get(f"{server.url}/healthz")
            turkish = httpx.get(f"{server.url}/", headers={"Accept-Language": "tr"})
            english = httpx.get(f"{server.url}/", headers={"Accept-Language": "en-GB,en"})
    finally:
        runtime.close()
    assert health.status_code == 200, health.text
    assert health.json()["ok"] is True
    assert turkish.status_code == 200 and 'lang="tr"' in turkish.text
    assert "Bültene abone olun" in turkish.text
    assert english.status_code == 200 and 'lang="en"' in english.text
    for link in ('href="/subscribe?lang=en"', 'href="/archive/?lang=en"', "/feeds.opml"):
        assert link in english.text
    assert "/feeds/" in english.text


def test_the_leader_is_judged_by_its_collections(tmp_path: Path) -> None:
    """Where this process collects (the scheduler's leader), a stale collection is a 503."""
    report = run_demo(tmp_path / "demo")
    assert report.config_path and report.secret_path
    settings = load_settings(report.config_path, env={})
    runtime = Runtime(settings)
    progress = {"daily-2026-12-01": {"finished": 10, "total": 40, "sent": 10, "rate_per_second": 5}}
    leader = SimpleNamespace(
        leading=True,
        alive_at=runtime.clock(),
        check_seconds=15,
        active={"daily": runtime.clock()},
        sending=progress,
    )
    try:
        with UvicornThread(create_app(runtime, leader)) as server:
            health = httpx.get(f"{server.url}/healthz")
    finally:
        runtime.close()
    assert health.status_code == 503
    assert "no successful collection for" in health.json()["problems"][0]
    # A send in progress is shown, and is not among the problems.
    assert health.json()["sending"] == progress and list(health.json()["jobs_running"]) == ["daily"]
    assert len(health.json()["problems"]) == 1

"""`m5syndicate collect` and `m5syndicate sources` as an admin runs them: real processes,
a real upstream on loopback, a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import m5
from tests.integration.test_collect_wordpress import hourly_posts
from tests.upstream import Upstream

ARTICLE = """+++
guid = "https://m5.test/?p={n}"
title = "Örnek haber {n}"
url = "https://m5.test/ornek-{n}/"
published = 2026-11-2{n}T06:00:00Z
language = "tr"
categories = ["Öne Çıkan"]
+++
Bu örnek haberin ilk paragrafı, yeni bir gelişmeyi anlatıyor.

Abone Ol
"""


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.posts = hourly_posts(120)
    with server.running():
        yield server


def write_config(tmp_path: Path, upstream: Upstream) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"0{n}.md").write_text(ARTICLE.format(n=n), encoding="utf-8")
    config = tmp_path / "m5.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "m5.db"}"

[[sources]]
name = "m5dergi"
type = "wordpress"
url = "{upstream.base_url}/wp-json/wp/v2/"
every = "10m"

[[sources]]
name = "gone"
type = "feed"
url = "{upstream.base_url}/gone.xml"

[[sources]]
name = "archive"
type = "directory"
url = "{folder}"
every = "1d"
""",
        encoding="utf-8",
    )
    return config


def test_collect_reports_each_source_and_exits_1_when_one_failed(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = str(write_config(tmp_path, upstream))
    assert m5("--config", config, "db", "upgrade").returncode == 0

    result = m5("--config", config, "collect")
    assert result.returncode == 1, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["m5dergi"].split()[1:5] == ["120", "0", "0", "ok"]
    assert lines["archive"].split()[1:5] == ["2", "0", "0", "ok"]
    assert "FAILED: collect: HTTP 404 Not Found from http" in lines["gone"]

    health = m5("--config", config, "sources")
    assert health.returncode == 0, health.stderr
    rows = {line.split()[0]: line for line in health.stdout.splitlines() if line.strip()}
    assert "HTTP 404" in rows["gone"] and " 1 " in rows["gone"]
    assert "never" in rows["gone"]  # no success yet
    assert "wordpress" in rows["m5dergi"] and "HTTP" not in rows["m5dergi"]

    again = m5("--config", config, "collect")
    assert again.returncode == 0, again.stdout  # nothing due: nothing failed
    assert all("not due until" in line for line in again.stdout.splitlines()[2:])

    one = m5("--config", config, "collect", "--source", "m5dergi")
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[2].split()[1:4] == ["0", "0", "1"]  # the overlap post


def test_unknown_source_is_one_clear_line(tmp_path: Path, upstream: Upstream) -> None:
    config = str(write_config(tmp_path, upstream))
    m5("--config", config, "db", "upgrade")
    result = m5("--config", config, "collect", "--source", "nope")
    assert result.returncode == 1
    assert "no source named 'nope'; known sources: m5dergi, gone, archive" in result.stderr
    assert "Traceback" not in result.stderr

"""The command line as an admin uses it: real processes, real databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from m5syndicate.cli import main
from tests.conftest import REPO


def m5(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    full_env.pop("M5_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "m5syndicate", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_db_upgrade_then_status_on_each_database(database_url: str) -> None:
    env = {"M5_DATABASE__URL": database_url}
    first = m5("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    assert "already at revision" in m5("db", "upgrade", env=env).stdout
    status = m5("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "subscribers: pending 0, confirmed 0, unsubscribed 0" in status.stdout
    assert "daily    never     never ran" in status.stdout  # the jobs `run` fires


def test_status_before_upgrade_says_what_to_run(tmp_path: Path) -> None:
    result = m5("status", env={"M5_DATABASE__URL": f"sqlite:///{tmp_path / 'new.db'}"})
    assert result.returncode == 1
    assert "run `m5syndicate db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line() -> None:
    url = "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"
    result = m5("db", "upgrade", env={"M5_DATABASE__URL": url})
    assert result.returncode == 1
    # The store's translation names host and port first, then the (redacted) URL.
    assert "cannot connect to 127.0.0.1:1 (" in result.stderr
    assert "postgresql+psycopg://nobody:********@127.0.0.1:1/none" in result.stderr
    assert "check [database] url" in result.stderr
    assert "Traceback" not in result.stderr and "pw@" not in result.stderr


def test_bad_config_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "[database]\nurl = 'sqlite:///" + str(tmp_path / "x.db") + "'\n"
        "[delivery]\nconcurrency = 'lots'\n"
    )
    result = m5("--config", str(config), "db", "upgrade")
    assert result.returncode == 1
    assert f"config: {config}: [delivery] concurrency: expected a whole number" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = m5("--debug", "--config", str(tmp_path / "absent.toml"), "status")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_config_show_redacts_secrets() -> None:
    env = {"M5_DELIVERY__SMTP_URL": "smtp://u:topsecret@relay:587", "M5_ADMIN_TOKEN": "tok-123"}
    result = m5("config", "show", env=env)
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout and "tok-123" not in result.stdout
    assert 'smtp_url = "smtp://u:********@relay:587"' in result.stdout


def test_every_command_has_help() -> None:
    """Every command and subcommand answers --help (in-process: one import, many calls)."""
    runner = CliRunner()

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = []
        for name, command in group.commands.items():
            found.append([*path, name])
            if isinstance(command, click.Group):
                found += walk(command, [*path, name])
        return found

    commands = walk(main, [])
    assert len(commands) > 5
    for words in commands:
        result = runner.invoke(main, [*words, "--help"])
        assert result.exit_code == 0, (words, result.output)
        assert "Usage:" in result.output


def counts_in(status: str) -> str:
    """The counts of `status`, without its jobs table (next runs move with the clock)."""
    return status.split("\njobs ", 1)[0]


@pytest.mark.slow
def test_demo_twice_leaves_the_same_counts(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first = m5("demo", "--dir", str(folder))
    assert first.returncode == 0, first.stderr
    assert "0 updated" in first.stdout
    env = {"M5_DATABASE__URL": f"sqlite:///{folder / 'demo.db'}"}
    counts_after_first = counts_in(m5("status", env=env).stdout)
    second = m5("demo", "--dir", str(folder))
    assert second.returncode == 0, second.stderr
    assert " 0 new, 0 updated" in second.stdout
    assert "0 added" in second.stdout
    assert counts_in(m5("status", env=env).stdout) == counts_after_first
    assert "articles: total 20" in counts_after_first

"""Database trouble in a command is one line on stderr and exit 1; --debug shows the
traceback with the driver's error as the cause. Real processes, real databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.integration.test_cli import m5

CLOSED_PORT = {"M5_DATABASE__URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}


def test_closed_port_is_one_line_and_exit_1_for_each_command() -> None:
    for command in (["status"], ["send", "--dry-run"], ["collect"], ["worker"]):
        result = m5(*command, env=CLOSED_PORT)
        assert result.returncode == 1, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert lines[0].startswith("error: database: cannot connect to 127.0.0.1:1 (")


def test_debug_shows_the_cause() -> None:
    result = m5("--debug", "status", env=CLOSED_PORT)
    assert result.returncode == 1
    assert "psycopg.OperationalError" in result.stderr
    assert "The above exception was the direct cause" in result.stderr
    assert "DatabaseUnreachable: database: cannot connect" in result.stderr


def test_a_table_missing_mid_command_says_run_db_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "behind.db"
    env = {"M5_DATABASE__URL": f"sqlite:///{path}"}
    assert m5("db", "upgrade", env=env).returncode == 0
    with sqlite3.connect(path) as conn:  # the revision says head; one table is gone
        conn.execute("DROP TABLE suppressions")
    result = m5("subscribers", "suppress", "a@example.org", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no such table: suppressions" in result.stderr
    assert "run `m5syndicate db upgrade`" in result.stderr

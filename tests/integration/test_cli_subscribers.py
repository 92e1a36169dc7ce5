"""`m5syndicate subscribers ...` as an admin runs it: real processes, both databases."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.integration.test_cli import m5


def test_subscribers_commands_end_to_end(database_url: str, tmp_path: Path) -> None:
    env = {"M5_DATABASE__URL": database_url, "M5_DELIVERY__OUTBOX_DIR": str(tmp_path / "out")}
    assert m5("db", "upgrade", env=env).returncode == 0
    added = m5("subscribers", "add", "Ayse@Example.org", "--lang", "tr", "--category",
               "defence-news", env=env)  # fmt: skip
    assert added.returncode == 0 and "added" in added.stdout and "confirmation mail" in added.stdout
    assert len(list((tmp_path / "out" / "new").iterdir())) == 1
    source = tmp_path / "in.csv"
    source.write_text(
        "email,language,cadence,categories,name,confirmed\n"
        'john@example.org,en,weekly,"defence-news,one-cikan",John,true\n'
        "broken-address,tr,daily,,,true\n"
        "emma@example.org,en,daily,,Emma,false\n",
        encoding="utf-8",
    )
    first = m5("subscribers", "import", str(source), env=env)
    assert first.returncode == 1
    assert f"{source}:3:" in first.stderr and "imported 2" in first.stdout
    second = m5("subscribers", "import", str(source), env=env)
    assert "imported 0, already there 2" in second.stdout
    listing = m5("subscribers", "list", "--status", "confirmed", env=env)
    assert "john@example.org" in listing.stdout and "emma" not in listing.stdout
    assert m5("subscribers", "remove", "john@example.org", env=env).returncode == 0
    assert "erased" in m5("subscribers", "forget", "EMMA@example.org", env=env).stdout
    out = tmp_path / "export.csv"
    assert m5("subscribers", "export", "--out", str(out), env=env).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("Ayse@example.org", "pending"),
        ("john@example.org", "unsubscribed"),
    ]
    assert "unsubscribe" in rows[1]["consent_events"]
    status = m5("status", env=env).stdout
    assert "pending 1, confirmed 0, unsubscribed 1, suppressed 1" in status
    missing = m5("subscribers", "remove", "nobody@example.org", env=env)
    assert missing.returncode == 1 and "no subscriber" in missing.stderr

"""Retention: the ledger of old editions goes, the editions (the archive) stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.store import stats
from m5syndicate.store.prune import prune_ledger
from tests.digests import NOW, add_subscribers, make_article, run_send, settings_for, store_articles


def test_prune_drops_old_ledger_rows_only(engine: Engine, tmp_path: Path) -> None:
    store_articles(engine, [make_article("a", hours_ago=3)])
    add_subscribers(engine, 3)
    settings = settings_for(engine.url.render_as_string(hide_password=False), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "outbox"))
    with engine.begin() as conn:
        assert prune_ledger(conn, NOW - timedelta(days=1)) == 0  # too recent
        assert stats.count_deliveries(conn)["sent"] == 3
    with engine.begin() as conn:
        assert prune_ledger(conn, NOW + timedelta(days=1)) == 3
    with engine.connect() as conn:
        assert sum(stats.count_deliveries(conn).values()) == 0
        assert stats.count_editions(conn) == {"done": 1}  # the archive keeps its editions

"""What reached whom, kept on the delivery rows (migration 0010), on both databases:
the latest mail's hash wins, and the migration moves every mark there and back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine

from m5syndicate.collect.clean import content_hash
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.store import deliveries as ledger
from m5syndicate.store.migrate import alembic_config, current_revision, upgrade
from tests.digests import NOW, add_subscribers, make_article, run_send, settings_for, store_articles

EDITED_BODY = "<p>Düzeltilmiş metin</p>"


def send_story_then_its_edit(engine: Engine, tmp_path: Path) -> tuple[int, str, str]:
    """One subscriber gets a story, then (the next day) its edit, marked updated.
    Returns (article id, hash sent first, hash sent second)."""
    story = make_article("story")
    [article_id] = store_articles(engine, [story])
    add_subscribers(engine, 1)
    settings = settings_for(str(engine.url.render_as_string(False)), tmp_path)
    run_send(engine, settings, OutboxTransport(tmp_path / "first"))
    tomorrow = NOW + timedelta(days=1)
    edited = dataclasses.replace(
        make_article("story", body=EDITED_BODY),
        updated_at=tomorrow - timedelta(hours=1),
        content_hash=content_hash(story.title, EDITED_BODY),
    )
    store_articles(engine, [edited], now=tomorrow)
    run_send(engine, settings, OutboxTransport(tmp_path / "second"), now=tomorrow)
    assert len(list((tmp_path / "second" / "new").glob("*.eml"))) == 1  # sent as updated
    return article_id, story.content_hash, edited.content_hash


def marks(engine: Engine, article_id: int) -> dict[int, dict[int, str]]:
    with engine.connect() as conn:
        subscriber = conn.execute(text("SELECT id FROM subscribers")).scalar_one()
        return ledger.delivered_hashes(conn, [subscriber], [article_id])


def test_the_latest_mail_of_an_article_gives_its_hash(engine: Engine, tmp_path: Path) -> None:
    article_id, first, second = send_story_then_its_edit(engine, tmp_path)
    [found] = marks(engine, article_id).values()
    assert found == {article_id: second[: ledger.SENT_HASH_DIGITS]}
    assert first[: ledger.SENT_HASH_DIGITS] != found[article_id]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sent_articles FROM deliveries ORDER BY id")).scalars()
        assert list(rows) == [
            f"{article_id}:{first[:16]}",
            f"{article_id}:{second[:16]}",
        ]


def test_the_migration_moves_every_mark_there_and_back(engine: Engine, tmp_path: Path) -> None:
    article_id, _, second = send_story_then_its_edit(engine, tmp_path)
    config = alembic_config(engine)
    command.downgrade(config, "0009")
    assert current_revision(engine) == "0009"
    with engine.connect() as conn:
        rebuilt = conn.execute(
            text("SELECT article_id, content_hash FROM delivered_articles")
        ).all()
    assert [tuple(row) for row in rebuilt] == [(article_id, second)]  # the whole hash again
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sent_articles FROM deliveries ORDER BY id")).scalars()
        # The one mark (the latest hash) goes onto both editions that carried the story.
        assert list(rows) == [f"{article_id}:{second[:16]}"] * 2
    [found] = marks(engine, article_id).values()
    assert found == {article_id: second[:16]}

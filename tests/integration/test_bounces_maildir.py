"""`m5syndicate bounces` on a Maildir of returned mails, after a real send: each mail
acted on and moved to .Processed, the one it cannot read kept and flagged."""

from __future__ import annotations

import mailbox
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.schema import bounces, subscribers
from tests.bounce_mail import ONE_EACH, Sent, returned_mails, sent_digests
from tests.digests import SECRET, settings_for
from tests.integration.test_cli import m5


def outcome(engine: Engine, sent: list[Sent]) -> dict[str, tuple[str, bool, list[str]]]:
    """email -> (status, suppressed, kinds recorded)."""
    found = {}
    with engine.connect() as conn:
        for one in sent:
            status = conn.execute(
                select(subscribers.c.status).where(subscribers.c.id == one.subscriber_id)
            ).scalar_one()
            kinds = conn.execute(
                select(bounces.c.kind).where(bounces.c.subscriber_id == one.subscriber_id)
            ).scalars()
            found[one.email] = (
                status,
                subscriber_store.is_suppressed(conn, one.email),
                sorted(kinds),
            )
    return found


def test_bounces_command_acts_on_each_mail_and_moves_it(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, len(ONE_EACH))
    inbox = mailbox.Maildir(tmp_path / "bounces", create=True)
    for data in returned_mails(settings, sent).values():
        inbox.add(mailbox.MaildirMessage(data))
    env = {
        "M5_DATABASE__URL": database_url,
        "M5_SECRET_KEY": SECRET,
        "M5_BOUNCES__MAILBOX": f"maildir:{tmp_path / 'bounces'}",
    }

    first = m5("bounces", env=env)

    assert first.returncode == 0, first.stderr
    assert "9 mails read; recorded complaint 1, hard 3, soft 1, unsubscribe 1" in first.stdout
    assert "4 suppressed, 2 unsubscribed, 2 not bounces" in first.stdout
    assert "1 mails could not be read" in first.stderr
    emails = [one.email for one in sent]
    assert outcome(engine, sent) == {
        emails[0]: ("unsubscribed", True, ["hard"]),  # Postfix 5.1.1
        emails[1]: ("unsubscribed", True, ["hard"]),  # Gmail, token only in quoted headers
        emails[2]: ("confirmed", False, ["soft"]),  # mailbox full: one soft bounce
        emails[3]: ("unsubscribed", True, ["complaint"]),  # Yahoo ARF
        emails[4]: ("unsubscribed", False, ["unsubscribe"]),  # mailto unsubscribe
        emails[5]: ("unsubscribed", True, ["hard"]),  # Exim, found by the address
        emails[6]: ("confirmed", False, []),  # an auto-reply
        emails[7]: ("confirmed", False, []),  # a delay warning
        emails[8]: ("confirmed", False, []),  # unreadable: kept
    }
    with engine.connect() as conn:
        tied = conn.execute(
            select(bounces.c.delivery_id, bounces.c.edition_id).where(
                bounces.c.subscriber_id == sent[1].subscriber_id
            )
        ).one()
    assert tuple(tied) == (sent[1].delivery_id, sent[1].edition_id)

    processed = mailbox.Maildir(tmp_path / "bounces" / ".Processed", create=False)
    assert len(processed) == 8
    assert all(name.startswith("cur") for name in processed._toc.values())
    kept = mailbox.Maildir(tmp_path / "bounces", create=False)
    assert [m.get_flags() for m in kept] == ["F"]
    assert b"Returned mail" in kept.get_bytes(next(iter(kept.keys())))

    again = m5("bounces", env=env)
    assert again.returncode == 0, again.stderr
    assert "0 mails read" in again.stdout

    status = m5("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "bounces and complaints per edition" in status.stdout
    assert "33.33%" in status.stdout  # 3 hard of 9 sent


def test_a_mail_read_twice_is_recorded_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, 1)
    data = returned_mails(settings, sent)["postfix-dsn-hard.eml"]
    inbox = mailbox.Maildir(tmp_path / "box", create=True)
    env = {
        "M5_DATABASE__URL": database_url,
        "M5_SECRET_KEY": SECRET,
        "M5_BOUNCES__MAILBOX": f"maildir:{tmp_path / 'box'}",
    }
    inbox.add(mailbox.MaildirMessage(data))
    assert "hard 1" in m5("bounces", env=env).stdout
    inbox.add(mailbox.MaildirMessage(data))  # the same report, delivered again
    second = m5("bounces", env=env)
    assert "recorded nothing" in second.stdout and "1 seen before" in second.stdout


def test_a_missing_maildir_is_one_clear_error(database_url: str, tmp_path: Path) -> None:
    env = {
        "M5_DATABASE__URL": database_url,
        "M5_SECRET_KEY": SECRET,
        "M5_BOUNCES__MAILBOX": f"maildir:{tmp_path / 'none'}",
    }
    assert m5("db", "upgrade", env=env).returncode == 0
    result = m5("bounces", env=env)
    assert result.returncode == 1
    assert "is not a Maildir" in result.stderr and "Traceback" not in result.stderr

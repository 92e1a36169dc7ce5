"""`m5syndicate bounces` against a real IMAP server (Dovecot, over TLS, with a password):
the returned mails of several real formats acted on, moved to Processed, the unreadable
one kept in INBOX with a keyword."""

from __future__ import annotations

import imaplib
import ssl
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.bounce_mail import ONE_EACH, Sent, returned_mails, sent_digests
from tests.digests import SECRET, settings_for
from tests.dovecot import (  # noqa: F401 (the fixtures)
    PASSWORD,
    Dovecot,
    dovecot,
    dovecot_without_move,
)
from tests.integration.test_bounces_maildir import outcome
from tests.integration.test_cli import m5


def keywords_in_inbox(server: Dovecot) -> list[bytes]:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context) as imap:
        imap.login("bounces", PASSWORD)
        imap.select("INBOX")
        _, data = imap.fetch("1:*", "(FLAGS)")
        return [item for item in data if isinstance(item, bytes)]


def bounces_env(database_url: str, mailbox: str, password: str = PASSWORD) -> dict[str, str]:
    """What `m5syndicate bounces` needs to read ``mailbox``."""
    return {
        "M5_DATABASE__URL": database_url,
        "M5_SECRET_KEY": SECRET,
        "M5_BOUNCES__MAILBOX": mailbox,
        "M5_BOUNCES_PASSWORD": password,
    }


def returned_into(
    server: Dovecot, engine: Engine, database_url: str, tmp_path: Path
) -> tuple[list[Sent], dict[str, str]]:
    """Digests sent to one subscriber per bounce format, their returned mails in the
    server's INBOX; the digests and the environment `m5syndicate bounces` reads it with."""
    settings = settings_for(database_url, tmp_path)
    sent = sent_digests(engine, settings, len(ONE_EACH))
    for data in returned_mails(settings, sent).values():
        server.deliver(data)
    return sent, bounces_env(database_url, server.url)


def test_bounces_command_reads_dovecot_over_tls(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    dovecot: Dovecot,  # noqa: F811
) -> None:
    sent, env = returned_into(dovecot, engine, database_url, tmp_path)

    result = m5("bounces", env=env)

    assert result.returncode == 0, result.stderr
    assert "9 mails read; recorded complaint 1, hard 3, soft 1, unsubscribe 1" in result.stdout
    found = outcome(engine, sent)
    assert [found[one.email][:2] for one in sent[:6]] == [
        ("unsubscribed", True),
        ("unsubscribed", True),
        ("confirmed", False),
        ("unsubscribed", True),
        ("unsubscribed", False),
        ("unsubscribed", True),
    ]
    assert len(dovecot.folder("Processed")) == 8
    flags = keywords_in_inbox(dovecot)
    assert len(flags) == 1 and b"M5Unreadable" in flags[0]
    assert "0 mails read" in m5("bounces", env=env).stdout  # the kept one is not re-read


def test_a_wrong_password_is_one_clear_error(
    database_url: str,
    dovecot: Dovecot,  # noqa: F811
) -> None:
    env = bounces_env(database_url, dovecot.url, "wrong")
    assert m5("db", "upgrade", env=env).returncode == 0
    result = m5("bounces", env=env)
    assert result.returncode == 1
    assert "cannot log in as bounces" in result.stderr and "Traceback" not in result.stderr
    assert "wrong" not in result.stderr


def test_an_untrusted_certificate_is_refused(
    database_url: str,
    dovecot: Dovecot,  # noqa: F811
) -> None:
    no_ca_file = dovecot.url.partition("?")[0]  # the server's certificate is not trusted
    env = bounces_env(database_url, no_ca_file)
    assert m5("db", "upgrade", env=env).returncode == 0
    result = m5("bounces", env=env)
    assert result.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def capabilities(server: Dovecot) -> list[str]:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context) as imap:
        imap.login("bounces", PASSWORD)
        _, data = imap.capability()
        return data[-1].decode().split()


def test_without_move_each_mail_is_copied_then_expunged(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    dovecot_without_move: Dovecot,  # noqa: F811
) -> None:
    server = dovecot_without_move
    offered = capabilities(server)
    assert "MOVE" not in offered  # the COPY + STORE \Deleted (+ UID EXPUNGE) path is taken
    _, env = returned_into(server, engine, database_url, tmp_path)

    result = m5("bounces", env=env)

    assert result.returncode == 0, result.stderr
    assert "9 mails read; recorded complaint 1, hard 3, soft 1, unsubscribe 1" in result.stdout
    assert len(server.folder("Processed")) == 8  # every done mail copied, none lost
    flags = keywords_in_inbox(server)
    unreadable = [f for f in flags if b"M5Unreadable" in f]
    assert len(unreadable) == 1 and b"\\Deleted" not in unreadable[0]  # kept as it was
    if "UIDPLUS" in offered:
        assert len(flags) == 1  # each copied mail expunged by its UID, the kept one stays
    else:
        # No UID EXPUNGE: the copied mails stay marked \Deleted (a plain EXPUNGE could
        # take mail someone else marked), and are never read again.
        assert sum(b"\\Deleted" in f for f in flags) == 8
    again = m5("bounces", env=env)
    assert "0 mails read" in again.stdout, again.stdout
    assert len(server.folder("Processed")) == 8  # nothing copied twice

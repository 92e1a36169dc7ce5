"""`m5syndicate bounces` and the `bounces` job: read the mailbox once, act on each mail,
then move it (done) or mark it (kept for a person)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from m5syndicate.bounces.mailbox import Mailbox, open_mailbox
from m5syndicate.bounces.parse import read_mail
from m5syndicate.bounces.record import Recorder, Tally
from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.config import Settings
from m5syndicate.errors import ConfigError


def open_configured(settings: Settings) -> Mailbox:
    bounces = settings.bounces
    if not bounces.mailbox:
        raise ConfigError(
            "bounces: [bounces] mailbox is not set; set it to imaps://user@host/INBOX "
            "(password in M5_BOUNCES_PASSWORD) or maildir:/path"
        )
    return open_mailbox(
        bounces.mailbox, bounces.password.get_secret_value(), settings.delivery.timeout_seconds
    )


def read_mailbox(
    engine: Engine, settings: Settings, box: Mailbox, clock: Callable[[], datetime]
) -> Tally:
    """Every mail waiting in ``box``, acted on and moved, or kept and counted."""
    verp = delivery_signer(settings)
    recorder = Recorder(engine, settings.bounces, settings.web.secret_key.get_secret_value())
    tally = Tally()
    for key, data in box.messages():
        one, done = recorder.record(read_mail(data, verp), "mailbox", clock())
        tally.add(one)
        if done:
            box.processed(key)
        else:
            box.kept(key)
    return tally


def read_configured_mailbox(
    engine: Engine, settings: Settings, clock: Callable[[], datetime]
) -> Tally:
    box = open_configured(settings)
    try:
        return read_mailbox(engine, settings, box, clock)
    finally:
        box.close()

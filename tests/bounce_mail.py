"""The golden returned mails of tests/data/bounces, filled for one delivery."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.config import Settings
from m5syndicate.mail.transport import OutboxTransport
from m5syndicate.store.schema import deliveries, subscribers
from m5syndicate.subscribers.links import UNSUBSCRIBE, make_token
from tests.conftest import REPO
from tests.digests import add_subscribers, make_article, run_send, store_articles

BOUNCES = REPO / "tests" / "data" / "bounces"


def golden(name: str, token: str = "", rcpt: str = "", unsubscribe: str = "") -> bytes:
    text = (BOUNCES / name).read_text(encoding="utf-8")
    text = text.replace("@@TOKEN@@", token).replace("@@RCPT@@", rcpt)
    return text.replace("@@UNSUB@@", unsubscribe).replace("\n", "\r\n").encode("utf-8")


def sent_digests(engine: Engine, settings: Settings, count: int) -> list[Sent]:
    """``count`` subscribers, each sent the daily digest through the outbox."""
    store_articles(engine, [make_article("a"), make_article("b")])
    add_subscribers(engine, count)
    run_send(engine, settings, OutboxTransport(settings.delivery.outbox_dir))
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.edition_id, subscribers.c.id.label("sid"))
            .add_columns(subscribers.c.email, subscribers.c.token_version, deliveries.c.state)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .order_by(deliveries.c.id)
        ).all()
    assert [r.state for r in rows] == ["sent"] * count
    return [Sent(r.id, r.edition_id, r.sid, r.email, r.token_version) for r in rows]


@dataclass(frozen=True)
class Sent:
    delivery_id: int
    edition_id: int
    subscriber_id: int
    email: str
    token_version: int


def returned_mails(settings: Settings, sent: list[Sent]) -> dict[str, bytes]:
    """One golden mail per subscriber, in order: name -> bytes, filled for that delivery."""
    verp = delivery_signer(settings)
    key = settings.web.secret_key.get_secret_value()
    mails = {}
    for name, one in zip(ONE_EACH, sent, strict=False):
        unsubscribe = make_token(one.subscriber_id, one.token_version, UNSUBSCRIBE, key)
        mails[name] = golden(name, verp.token(one.delivery_id), one.email, unsubscribe)
    return mails


ONE_EACH = (
    "postfix-dsn-hard.eml",
    "gmail-dsn-headers-only.eml",
    "exchange-dsn-mailbox-full.eml",
    "yahoo-arf-complaint.eml",
    "unsubscribe-mail.eml",
    "exim-hard.eml",
    "auto-reply.eml",
    "postfix-dsn-delayed.eml",
    "unreadable-bounce.eml",
)

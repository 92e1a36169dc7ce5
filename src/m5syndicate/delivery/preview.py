"""Looking before sending: `send --dry-run`, `send --test-to` and `preview`.

None of these freeze an edition or touch the ledger: they work on the edition that
`send` would deliver now (the stored one of this period, or a draft of it), or, when
nothing is due, on the cadence's latest edition.

A test send cannot hurt the subscriber it shows: its subject starts "[TEST] ", its
Message-ID is its own, and its links (unsubscribe, preferences, the List-Unsubscribe
https and mailto) are signed with a throwaway key, so they open the "link not valid"
page and unsubscribe nobody, whoever clicks or posts them.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy.engine import Connection, Engine

from m5syndicate.config import Settings
from m5syndicate.delivery.send import SendParts
from m5syndicate.digest.compose import Composer
from m5syndicate.digest.editions import (
    UNFINISHED,
    draft_edition,
    select_articles,
)
from m5syndicate.errors import InputError, NotFound
from m5syndicate.mail.message import Envelope
from m5syndicate.models import Edition, Recipient
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers.links import LinkSigner


def edition_to_show(engine: Engine, cadence: str, now: datetime, settings: Settings) -> Edition:
    """The edition `send` would deliver now, else the latest one of the cadence."""
    with engine.connect() as conn:
        unfinished = edition_store.unfinished_editions(conn, cadence)
        if unfinished:
            return unfinished[0]
        due = draft_edition(conn, cadence, now, settings.newsletter, settings.site.timezone)
        if due is not None:
            return due
        latest = edition_store.latest_edition(conn, cadence)
        found = edition_store.get_edition(conn, latest.id) if latest and latest.id else None
    if found is None:
        raise NotFound(
            f"preview: no {cadence} edition yet and no new articles for one; "
            "run `m5syndicate collect` first"
        )
    return found


def sample_recipient(language: str, fmt: str = "html") -> Recipient:
    """A subscriber of every category, for previews without --subscriber."""
    return Recipient(0, 0, "preview@example.invalid", language, fmt, "confirmed", 1, ())


def recipient_by_email(engine: Engine, email: str) -> Recipient:
    with engine.connect() as conn:
        found = subscriber_store.find_recipient(conn, email)
    if found is None:
        raise InputError(f"preview: no subscriber {email!r}; see `m5syndicate subscribers list`")
    return found


@dataclass(frozen=True)
class Preview:
    edition: Edition
    subject: str
    text: str
    html: str | None
    message: bytes  # the .eml, links filled in


def inert_links(settings: Settings) -> LinkSigner:
    """Links of the right shape that no key of ours verifies: they lead nowhere."""
    return LinkSigner(settings.site.public_url, secrets.token_urlsafe(32))


def render_preview(
    parts: SendParts,
    edition: Edition,
    recipient: Recipient,
    now: datetime,
    to: str = "",
    test: bool = False,
) -> Preview:
    """The recipient's message for this edition (articles they already got included);
    ``test``: as a test send, marked, with its own Message-ID and inert links."""
    selection = select_articles(edition, recipient, {}, parts.settings.newsletter)
    if isinstance(selection, str):
        raise InputError(
            f"preview: {edition.slug} has nothing for this subscriber ({selection}); "
            "try another --lang or --subscriber"
        )
    composer = Composer(
        parts.env,
        edition,
        parts.settings.site,
        parts.settings.newsletter,
        inert_links(parts.settings) if test else parts.links,
        now,
        parts.sign,
        test=test,
        category_names=parts.settings.feeds.category_labels,
    )
    envelope, _ = composer.compose(recipient, selection, to=to or None)
    variant = composer.variant(recipient, selection)
    return Preview(edition, variant.subject, variant.mail.text, variant.mail.html, envelope.data)


async def send_test(parts: SendParts, preview: Preview, to: str) -> str:
    """Hand a preview to the transport for ``to``, outside the ledger; the reply."""
    bounce = parseaddr(parts.settings.newsletter.sender)[1]
    return await parts.transport.send(Envelope(bounce, (to,), preview.message))


@dataclass
class VariantPlan:
    language: str
    format: str
    titles: list[str]
    more: int
    recipients: int = 0


@dataclass
class EditionPlan:
    edition: Edition
    stored: bool  # False: a draft, frozen when `send` runs
    ledger: Counter[str] = field(default_factory=Counter)
    variants: list[VariantPlan] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def recipients(self) -> int:
        return sum(variant.recipients for variant in self.variants)


def plan_send(
    engine: Engine, settings: Settings, now: datetime, cadences: tuple[str, ...]
) -> list[EditionPlan]:
    """What `send` would do: per edition, each variant's articles and recipient count."""
    plans = []
    with engine.connect() as conn:
        for cadence in cadences:
            editions = edition_store.unfinished_editions(conn, cadence)
            due = draft_edition(conn, cadence, now, settings.newsletter, settings.site.timezone)
            if due is not None and due.state in UNFINISHED and due.id is None:
                editions.append(due)
            for edition in editions:
                plans.append(plan_edition(conn, edition, settings))
    return plans


def plan_edition(conn: Connection, edition: Edition, settings: Settings) -> EditionPlan:
    plan = EditionPlan(edition, stored=edition.id is not None)
    if edition.id is not None:
        plan.ledger = ledger.edition_counts(conn, edition.id)
    article_ids = [a.id for a in edition.articles if a.id is not None]
    variants: dict[tuple[object, ...], VariantPlan] = {}
    for batch in subscriber_store.subscribers_of_cadence(conn, edition.cadence):
        ids = [recipient.subscriber_id for recipient in batch]
        delivered = ledger.delivered_hashes(conn, ids, article_ids, edition.id)
        for recipient in batch:
            chosen = select_articles(
                edition, recipient, delivered.get(recipient.subscriber_id, {}), settings.newsletter
            )
            if isinstance(chosen, str):
                plan.skipped[chosen] += 1
                continue
            key = (recipient.language, recipient.format, *chosen.key)
            if key not in variants:
                titles = [a.title for a in chosen.articles]
                variants[key] = VariantPlan(
                    recipient.language, recipient.format, titles, chosen.more
                )
            variants[key].recipients += 1
    plan.variants = sorted(variants.values(), key=lambda v: -v.recipients)
    return plan

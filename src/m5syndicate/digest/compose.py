"""Composing digest messages: render once per variant, then per subscriber only
substitute links, add their headers and (optionally) sign.

A variant is (language, format, the articles selected); thousands of subscribers share
one. Per message the work is: two signed tokens, a few short lines quoted-printable
encoded, a join, and a DKIM signature when configured.

Every digest carries what Gmail's and Yahoo's bulk-sender rules ask: List-Id,
List-Unsubscribe with an https URL and a ``mailto:`` (RFC 2369), RFC 8058's
List-Unsubscribe-Post, a Feedback-ID (``edition:cadence:digest:sender``) for Gmail's
feedback loop, a Message-ID on the From domain and the postal address in the footer.

Article links are the same for every reader of a variant: the article's URL, or its
click redirect when the link signer counts clicks (``[tracking] clicks``, set on the
signer by the runtime). Category labels come from ``category_names`` (``[feeds]
category_names``, by slug and language).

A test send (``test=True``) is the same mail marked "[TEST] " in its subject, with a
Message-ID of its own; the caller gives it inert links (``delivery/preview.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from jinja2 import Environment

from m5syndicate.bounces.verp import DELIVERY_HEADER, DeliverySigner
from m5syndicate.config import NewsletterSettings, SiteSettings
from m5syndicate.digest.editions import Selection
from m5syndicate.digest.render import (
    NO_NAMES,
    PREFERENCES_SLOT,
    SLOTS,
    UNSUBSCRIBE_SLOT,
    RenderedMail,
    digest_page,
    render_digest,
)
from m5syndicate.feeds.catalog import CategoryNames
from m5syndicate.mail.message import (
    Envelope,
    HeaderBlock,
    PreparedBody,
    ascii_address,
    assemble_wire,
    header_block,
    list_unsubscribe,
    new_message_id,
    prepare_body,
)
from m5syndicate.models import Edition, Recipient
from m5syndicate.subscribers.links import LinkSigner

Signer = Callable[[bytes], bytes]
TEST_MARK = "[TEST] "


@dataclass(frozen=True)
class Variant:
    subject: str
    head: HeaderBlock
    body: PreparedBody
    mail: RenderedMail  # kept for preview and tests


def sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def feedback_id(edition: Edition, domain: str) -> str:
    """Gmail's Feedback-ID ``campaign:customer:type:sender``: the edition, its cadence,
    the mail type and the sender (the From domain's first label), so the feedback loop
    reports complaints per edition and cadence. Its fields hold no colon of their own."""
    sender = domain.split(".", 1)[0] or "m5"
    return ":".join(
        part.replace(":", "-") for part in (edition.slug, edition.cadence, "digest", sender)
    )


class Composer:
    """Builds the exact bytes of each subscriber's digest for one edition."""

    def __init__(
        self,
        env: Environment,
        edition: Edition,
        site: SiteSettings,
        newsletter: NewsletterSettings,
        links: LinkSigner,
        date: datetime,
        sign: Signer | None = None,
        test: bool = False,
        verp: DeliverySigner | None = None,
        category_names: CategoryNames = NO_NAMES,
    ) -> None:
        self.env, self.edition, self.site, self.newsletter = env, edition, site, newsletter
        self.links, self.date, self.sign, self.test = links, date, sign, test
        self.verp, self.category_names = verp, category_names
        self.domain = sender_domain(newsletter.sender)
        self.bounce_address = parseaddr(newsletter.sender)[1]
        self.variants: dict[tuple[object, ...], Variant] = {}

    def variant(self, recipient: Recipient, selection: Selection) -> Variant:
        key = (recipient.language, recipient.format, *selection.key)
        found = self.variants.get(key)
        if found is None:
            found = self.variants[key] = self.build_variant(recipient, selection)
        return found

    def build_variant(self, recipient: Recipient, selection: Selection) -> Variant:
        fmt = "html" if recipient.format == "html" else "text"
        page = digest_page(
            self.edition,
            selection,
            recipient.language,
            self.site,
            self.newsletter.postal_address,
            category_names=self.category_names,
            link=self.article_link,
        )
        mail = render_digest(self.env, page, recipient.language, fmt)
        subject = TEST_MARK + mail.subject if self.test else mail.subject
        head = header_block(
            sender=self.newsletter.sender,
            subject=subject,
            date=self.date,
            reply_to=self.newsletter.reply_to,
            extra_headers=[
                ("List-Id", f"<{self.edition.cadence}.digest.{self.domain}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("Feedback-ID", feedback_id(self.edition, self.domain)),
                ("Auto-Submitted", "auto-generated"),
            ],
        )
        return Variant(subject, head, prepare_body(mail.text, mail.html, SLOTS), mail)

    def article_link(self, article_id: int | None, url: str) -> str:
        return self.links.article_link(self.edition.id, article_id, url)

    def message_id(self, recipient: Recipient) -> str:
        if self.test:  # never the id of the real delivery: that one may still be sent
            return new_message_id(self.domain)
        # Stable per delivery: a retry (or a resend after a crash) carries the same id,
        # which lets receiving systems drop the duplicate.
        return f"<{self.edition.slug}.{recipient.subscriber_id}@{self.domain}>"

    def compose(
        self,
        recipient: Recipient,
        selection: Selection,
        to: str | None = None,
        signed: bool = True,
    ) -> tuple[Envelope, str]:
        """(envelope, Message-ID) of the recipient's digest; ``to`` overrides the address
        (test sends); ``signed=False`` leaves DKIM to the caller (who signs elsewhere)."""
        variant = self.variant(recipient, selection)
        links = self.links.links(recipient.subscriber_id, recipient.token_version)
        values = {UNSUBSCRIBE_SLOT: links.unsubscribe_url, PREFERENCES_SLOT: links.preferences_url}
        address = to or recipient.email
        message_id = self.message_id(recipient)
        personal = [("List-Unsubscribe", list_unsubscribe(links.unsubscribe_url, self.domain))]
        sender = self.bounce_address
        if self.verp is not None and recipient.delivery_id:
            # What comes back names its ledger row: by the return path, or by this
            # header when a DSN quotes only the original headers (bounces/verp.py).
            personal.append((DELIVERY_HEADER, self.verp.token(recipient.delivery_id)))
            sender = self.verp.envelope_sender(recipient.delivery_id)
        data, stuffed = assemble_wire(
            variant.head, address, message_id, personal, variant.body, values
        )
        envelope = Envelope(sender, (ascii_address(address),), data, stuffed)
        if signed and self.sign is not None:
            envelope = envelope.signed_by(self.sign)
        return envelope, message_id

"""The mails of the subscription flow: confirm, welcome, goodbye.

Rendered like the digests, by ``render.render_mail`` from
``templates/email/{kind}.{language}.{txt,html}`` (the text template sets ``subject``; the
HTML one extends ``notice.html`` on the digests' layout, CSS inlined), built by the same
``mail.message`` builder and signed by the same DKIM signer. The caller hands the
envelope to its transport.

Each carries Auto-Submitted (RFC 3834), a Message-ID on the From domain and the postal
address in its footer; the welcome mail, the first of the list, also List-Id and
List-Unsubscribe (https and mailto) with RFC 8058's one-click. The goodbye mail is not
sent after a mail client's one-click unsubscribe (``web/account.py``).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

from jinja2 import Environment

from m5syndicate.config import Settings
from m5syndicate.digest.compose import Signer, sender_domain
from m5syndicate.digest.render import RenderedMail, render_mail
from m5syndicate.mail.message import (
    Envelope,
    ascii_address,
    build_message,
    list_unsubscribe,
    new_message_id,
)
from m5syndicate.models import Subscriber
from m5syndicate.subscribers.links import subscriber_links
from m5syndicate.subscribers.subscriptions import Confirmation

KINDS = ("confirm", "welcome", "goodbye", "preferences")
# RFC 3834: an automatic reply to a person's action; auto-responders must not answer it.
AUTO_SUBMITTED = ("Auto-Submitted", "auto-generated")


class Notices:
    """Builds the account mails of one installation, signed when [dkim] is set."""

    def __init__(self, env: Environment, settings: Settings, sign: Signer | None = None) -> None:
        self.env, self.settings, self.sign = env, settings, sign
        self.domain = sender_domain(settings.newsletter.sender)

    def confirmation(self, confirmation: Confirmation, now: datetime) -> Envelope:
        base = self.settings.site.public_url.rstrip("/")
        context = {"confirm_url": f"{base}/confirm/{confirmation.token}"}
        mail = self.render("confirm", confirmation.language, context)
        return self.envelope(confirmation.email, mail, now, [AUTO_SUBMITTED])

    def account(self, kind: str, subscriber: Subscriber, now: datetime) -> Envelope:
        """`welcome`, `goodbye` or `preferences` (a confirmed subscriber subscribed again):
        each carries the subscriber's own links."""
        assert subscriber.id is not None
        links = subscriber_links(
            subscriber.id,
            subscriber.token_version,
            self.settings.site.public_url,
            self.settings.web.secret_key.get_secret_value(),
        )
        context = {
            "preferences_url": links.preferences_url,
            "unsubscribe_url": links.unsubscribe_url,
        }
        mail = self.render(kind, subscriber.language, context)
        headers = [AUTO_SUBMITTED]
        if kind == "welcome":  # RFC 8058: mail clients show their own unsubscribe button
            headers += [
                ("List-Id", f"<{subscriber.cadence}.digest.{self.domain}>"),
                ("List-Unsubscribe", list_unsubscribe(links.unsubscribe_url, self.domain)),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ]
        return self.envelope(subscriber.email, mail, now, headers)

    def render(self, kind: str, language: str, context: dict[str, str]) -> RenderedMail:
        site = self.settings.site
        shared = {
            "site_title": site.title,
            "site_url": site.url,
            "postal_address": self.settings.newsletter.postal_address,
            **context,
        }
        return render_mail(self.env, kind, language, shared)

    def envelope(
        self, to: str, mail: RenderedMail, now: datetime, headers: list[tuple[str, str]]
    ) -> Envelope:
        newsletter = self.settings.newsletter
        data = build_message(
            sender=newsletter.sender,
            to=to,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=new_message_id(self.domain),
            date=now,
            reply_to=newsletter.reply_to,
            extra_headers=headers,
        )
        if self.sign is not None:
            data = self.sign(data)
        sender = parseaddr(newsletter.sender)[1]
        return Envelope(sender=sender, recipients=(ascii_address(to),), data=data)

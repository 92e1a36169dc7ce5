"""The mails of the subscription flow: confirm, welcome, goodbye.

Rendered from ``templates/email/{kind}.{language}.{txt,html}`` (the operator may override
them; see ``templates.py``): the text template sets ``subject`` with ``{% set %}``, and
the HTML one receives it. Messages are built by ``message.build_message``; the caller
hands the envelope to its transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from jinja2 import Environment, TemplateError

from m5syndicate.config import Settings
from m5syndicate.errors import RenderError
from m5syndicate.models import Subscriber
from m5syndicate.newsletter.links import subscriber_links
from m5syndicate.newsletter.message import Envelope, ascii_address, build_message, new_message_id
from m5syndicate.newsletter.subscriptions import Confirmation

KINDS = ("confirm", "welcome", "goodbye")


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str


def render_notice(env: Environment, kind: str, language: str, context: dict[str, str]) -> Notice:
    try:
        module = env.get_template(f"{kind}.{language}.txt").make_module(context)
        subject = str(getattr(module, "subject", "")).strip()
        html = env.get_template(f"{kind}.{language}.html").render(context, subject=subject)
    except TemplateError as exc:
        raise RenderError(f"mail: template {kind}.{language}: {exc}; fix the template") from exc
    if not subject:
        raise RenderError(f"mail: {kind}.{language}.txt sets no subject; add {{% set subject %}}")
    return Notice(subject, str(module).strip() + "\n", html)


def envelope(
    settings: Settings,
    to: str,
    notice: Notice,
    now: datetime,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> Envelope:
    sender = parseaddr(settings.newsletter.sender)[1]
    data = build_message(
        sender=settings.newsletter.sender,
        to=to,
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        message_id=new_message_id(sender.rpartition("@")[2] or "localhost"),
        date=now,
        reply_to=settings.newsletter.reply_to,
        extra_headers=extra_headers,
    )
    return Envelope(sender=sender, recipients=(ascii_address(to),), data=data)


def confirmation_mail(
    env: Environment, settings: Settings, confirmation: Confirmation, now: datetime
) -> Envelope:
    base = settings.site.public_url.rstrip("/")
    context = {
        "site_title": settings.site.title,
        "language": confirmation.language,
        "confirm_url": f"{base}/confirm/{confirmation.token}",
    }
    notice = render_notice(env, "confirm", confirmation.language, context)
    return envelope(settings, confirmation.email, notice, now)


def account_mail(
    env: Environment, settings: Settings, kind: str, subscriber: Subscriber, now: datetime
) -> Envelope:
    """`welcome` or `goodbye`: both carry the subscriber's own links."""
    assert subscriber.id is not None
    links = subscriber_links(
        subscriber.id,
        subscriber.token_version,
        settings.site.public_url,
        settings.web.secret_key.get_secret_value(),
    )
    context = {
        "site_title": settings.site.title,
        "language": subscriber.language,
        "preferences_url": links.preferences_url,
        "unsubscribe_url": links.unsubscribe_url,
    }
    notice = render_notice(env, kind, subscriber.language, context)
    headers: tuple[tuple[str, str], ...] = ()
    if kind == "welcome":  # RFC 8058: mail clients show their own unsubscribe button
        headers = (
            ("List-Unsubscribe", f"<{links.unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        )
    return envelope(settings, subscriber.email, notice, now, headers)

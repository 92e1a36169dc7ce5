"""The one composition root: turns Settings into the concrete parts the use cases need.

Only this module decides which engine, transport or template folder is used; the use
cases receive them as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from jinja2 import Environment
from sqlalchemy.engine import Engine

from m5syndicate.config import Settings
from m5syndicate.models import utcnow
from m5syndicate.newsletter.compose import Signer
from m5syndicate.newsletter.deliver import SendParts
from m5syndicate.newsletter.dkim import load_signer
from m5syndicate.newsletter.links import LinkSigner
from m5syndicate.newsletter.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.newsletter.templates import email_environment
from m5syndicate.newsletter.transport import OutboxTransport, Transport
from m5syndicate.store.engine import make_engine


@dataclass
class Runtime:
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database.url)

    @cached_property
    def email_env(self) -> Environment:
        return email_environment(self.settings.newsletter.templates_dir)

    @cached_property
    def link_signer(self) -> LinkSigner:
        """Raises ConfigError (how to set M5_SECRET_KEY) when no key is configured."""
        return LinkSigner(self.settings.site.public_url, self.settings.web.secret_key)

    @cached_property
    def dkim_signer(self) -> Signer | None:
        return load_signer(self.settings.dkim)

    def new_transport(self) -> Transport:
        """The configured transport; a fresh one per event loop (SMTP connections are
        bound to the loop that opened them). The caller closes it."""
        delivery = self.settings.delivery
        if delivery.transport == "smtp":
            target = parse_smtp_url(delivery.smtp_url)
            return SmtpTransport(target, delivery.concurrency, delivery.timeout_seconds)
        return OutboxTransport(delivery.outbox_dir)

    def send_parts(self, transport: Transport) -> SendParts:
        return SendParts(
            engine=self.engine,
            transport=transport,
            env=self.email_env,
            settings=self.settings,
            links=self.link_signer,
            sign=self.dkim_signer,
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

"""What a send is given: the parts the runtime builds, and the caller's options."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment
from sqlalchemy.engine import Engine

from m5syndicate.config import CADENCES, Settings
from m5syndicate.digest.compose import Signer
from m5syndicate.mail.transport import Transport
from m5syndicate.metrics import Metrics
from m5syndicate.subscribers.links import LinkSigner


@dataclass(frozen=True)
class SendParts:
    """What sending needs, built by the runtime."""

    engine: Engine
    transport: Transport
    env: Environment
    settings: Settings
    links: LinkSigner
    sign: Signer | None = None
    metrics: Metrics | None = None  # this process's counters, when it exposes them


@dataclass(frozen=True)
class SendOptions:
    cadences: tuple[str, ...] = CADENCES
    limit: int | None = None  # most deliveries handled in this run
    retry_failed: bool = False  # failed deliveries of the editions become pending again
    # Only finish editions already frozen (retries, workers): a digest whose time passed
    # while nobody ran is the scheduler's to catch up or to record as missed.
    resume_only: bool = False

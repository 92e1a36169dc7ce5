"""Riding out a relay that went away: a connection refused, dropped or not answered before
any recipient was named is retried with backoff for `[delivery]
relay_outage_grace_seconds`, then the run stops with one line saying what to do.

Nothing is at stake for the subscriber meanwhile: the message never reached a RCPT, so
sending it again cannot duplicate it, no attempt is counted and the edition is not
paused (its row stays claimed, its lease renewed). While the relay is down one worker
probes it and the others queue behind, so the log gets one line per retry, not one per
worker. Refusals that waiting will not fix (a 5xx greeting, a login refused, no
STARTTLS) are permanent failures and go to the failure policy as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from m5syndicate.delivery.outage import FIRST_WAIT, backoff
from m5syndicate.delivery.policy import BEFORE_RECIPIENT
from m5syndicate.errors import DeliveryError, TemporaryFailure

log = logging.getLogger("m5.send")
Send = Callable[[], Awaitable[str]]


class RelayDown(DeliveryError):
    """The relay stayed unreachable for longer than the grace: the run stops."""


class Stopped(Exception):
    """Told to stop while waiting for the relay: the delivery goes back untouched."""


def relay_unreachable(exc: BaseException) -> bool:
    """A temporary failure before any recipient was named: the relay, not the person."""
    return isinstance(exc, TemporaryFailure) and exc.step in BEFORE_RECIPIENT


class RelayWatch:
    """Shared by the workers of one run."""

    def __init__(self, grace: float, stop: asyncio.Event) -> None:
        self.grace, self.stop = grace, stop
        self.down_since: float | None = None
        self.wait = FIRST_WAIT
        self.gate = asyncio.Lock()  # one prober while the relay is down
        self.gave_up: RelayDown | None = None

    async def send(self, send: Send) -> str:
        """``send()``, retried while the relay is unreachable; raises RelayDown once it
        has been for the grace, Stopped when told to stop meanwhile."""
        if self.down_since is None:
            try:
                return await send()
            except DeliveryError as exc:
                if not relay_unreachable(exc):
                    raise
                self.went_down(exc)
        while True:
            async with self.gate:
                if self.gave_up is not None:
                    raise self.gave_up
                if self.down_since is not None:
                    await self.before_probe()
                try:
                    reply = await send()
                except DeliveryError as exc:
                    if not relay_unreachable(exc):
                        raise
                    self.still_down(exc)
                    continue
                self.came_back()
                return reply

    def went_down(self, exc: DeliveryError) -> None:
        if self.down_since is None:
            self.down_since, self.wait = time.monotonic(), FIRST_WAIT
            log.warning(
                "relay unreachable (%s); no subscriber is touched, retrying for up to %g s "
                "([delivery] relay_outage_grace_seconds)",
                exc,
                self.grace,
            )

    def still_down(self, exc: DeliveryError) -> None:
        if self.down_since is None:
            self.went_down(exc)
            return
        waited = time.monotonic() - self.down_since
        if waited >= self.grace:
            self.gave_up = gave_up(exc, self.grace)
            raise self.gave_up from exc
        log.warning("relay still unreachable after %.0f s (%s); retrying", waited, exc)

    async def before_probe(self) -> None:
        """Wait (doubling, as for the database: outage.backoff) unless told to stop."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=self.wait)
        except TimeoutError:
            self.wait = backoff(self.wait)
            return
        raise Stopped

    def came_back(self) -> None:
        if self.down_since is not None:
            log.info("relay reachable again after %.0f s", time.monotonic() - self.down_since)
        self.down_since, self.wait = None, FIRST_WAIT


def gave_up(exc: DeliveryError, grace: float) -> RelayDown:
    return RelayDown(
        f"send: the relay stayed unreachable for more than {grace:g} s ({exc}); stopped, "
        "no subscriber touched and the edition not paused; start the relay (or fix "
        "[delivery] smtp_url), then run `m5syndicate send` again "
        "([delivery] relay_outage_grace_seconds)",
        step=exc.step,
    )

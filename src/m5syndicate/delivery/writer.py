"""The outcome writer: group commit of delivery outcomes.

A worker submits each outcome and has its next message committed to the relay only once
that outcome is durable (runner.py), so an accepted message is on the ledger before the
worker's next one is accepted; outcomes submitted while a commit runs share the next one
(many workers, few transactions). A database outage is
ridden out (retried for `[database] outage_grace_seconds`): the workers wait meanwhile,
so nothing more is sent while outcomes cannot be recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from m5syndicate.delivery.outage import ride_out
from m5syndicate.delivery.pacing import Clock
from m5syndicate.store import deliveries as ledger
from m5syndicate.store.deliveries import Outcome


class OutcomeWriter:
    """Group commit: outcomes recorded while a commit runs go into the next one."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        on_commit: Callable[[Sequence[Outcome]], None],
        worker: str = "",
        grace: float = 0.0,
    ) -> None:
        self.engine, self.clock, self.on_commit, self.worker = engine, clock, on_commit, worker
        self.grace = grace
        self.buffer: list[tuple[Outcome, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.closing = False
        self.task = asyncio.create_task(self.loop())

    def submit(self, outcome: Outcome) -> asyncio.Future[None]:
        """Queue ``outcome`` for the next commit; the future is done once it is durable
        (or holds the error that kept it from being written)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer.append((outcome, future))
        self.wake.set()
        return future

    async def loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.buffer = self.buffer, []
            if batch:
                await self.flush(batch)
            if self.closing and not self.buffer:
                return

    async def flush(self, batch: list[tuple[Outcome, asyncio.Future[None]]]) -> None:
        outcomes = [outcome for outcome, _ in batch]
        try:
            applied = await ride_out(
                "recording delivery outcomes", self.grace, lambda: self.write(outcomes)
            )
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.on_commit(applied)
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    def write(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        with self.engine.begin() as conn:
            return ledger.record_outcomes(conn, outcomes, self.clock.now(), self.worker)

    async def close(self) -> None:
        self.closing = True
        self.wake.set()
        await self.task

"""How fast and how much: the run's clock, its budget (--limit, daily cap) and the
per-process rate limit."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta


class Budget:
    """How many deliveries this run may still claim (--limit, daily cap)."""

    def __init__(self, left: int | None, reason: str = "") -> None:
        self.left, self.reason = left, reason

    def take(self, wanted: int) -> int:
        if self.left is None:
            return wanted
        granted = min(wanted, self.left)
        self.left -= granted
        return granted

    def give_back(self, unused: int) -> None:
        if self.left is not None:
            self.left += unused

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0


class Clock:
    """The caller's `now`, moved on by real elapsed time (so a fixed demo clock still
    lets leases and retries run)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.origin = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)

    def elapsed(self) -> float:
        return time.monotonic() - self.origin


class RateLimit:
    """Messages per second, shared by the workers of this process (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next_slot, now)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

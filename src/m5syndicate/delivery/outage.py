"""Riding out a database that went away: retry with backoff for `[database]
outage_grace_seconds`, then stop with one line saying what happened and what to do.

Nothing is lost by stopping: an outcome not written leaves its row claimed, and the row
goes back to the queue when its lease runs out (no attempt is counted for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from m5syndicate.errors import DatabaseBusy, DatabaseUnreachable, StoreError

log = logging.getLogger("m5.send")
T = TypeVar("T")
FIRST_WAIT, LONGEST_WAIT = 0.2, 5.0


class LeasesLost(StoreError):
    """The renewer could not extend this run's leases before they ran out: the run
    stopped sending so that no other sender's claim of the same rows meets a duplicate."""

    def __init__(self, message: str, since: float) -> None:
        super().__init__(message)
        self.since = since  # time.monotonic() of the first failed renewal


def is_outage(exc: BaseException) -> bool:
    """A database that cannot be reached or is locked, as opposed to a bad statement."""
    if isinstance(exc, LeasesLost | DatabaseUnreachable | DatabaseBusy):
        return True  # the store's own words for it (store/failures.py)
    if isinstance(exc, OperationalError):
        return True  # connection refused or lost, server shutting down, SQLite locked
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause = exc.__cause__
    return isinstance(exc, StoreError) and cause is not None and is_outage(cause)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def gave_up(what: str, grace: float, exc: BaseException) -> StoreError:
    return StoreError(
        f"database: unreachable for more than {grace:g} s while {what} ({first_line(exc)}); "
        "stopped, nothing lost (unrecorded deliveries go back when their leases run out); "
        "start the database, then run the command again ([database] outage_grace_seconds)"
    )


def backoff(wait: float) -> float:
    return min(wait * 2, LONGEST_WAIT)


async def ride_out(what: str, grace: float, call: Callable[[], T]) -> T:
    """``call()`` on a worker thread, retried while the database is away, up to ``grace``
    seconds after the first failure."""
    started: float | None = None
    wait = FIRST_WAIT
    while True:
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:
            if not is_outage(exc):
                raise
            now = time.monotonic()
            if started is None:
                started = now
                log.warning("database unreachable while %s (%s); retrying", what, first_line(exc))
            if now - started >= grace:
                raise gave_up(what, grace, exc) from exc
        await asyncio.sleep(wait)
        wait = backoff(wait)

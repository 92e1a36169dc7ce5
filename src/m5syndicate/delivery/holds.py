"""Holding and resuming an edition by a person (the console, `send --resume`).

A held edition (cause "admin" or "guard_rail") is taken up by no sender, job or worker
until a person resumes it; resuming clears the cause and hands it back to the senders
(the retries job within a minute under `run`, or the `send` that resumed it).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from m5syndicate.errors import InputError, NotFound
from m5syndicate.models import Edition
from m5syndicate.store import editions as edition_store

ADMIN_HOLDABLE = ("open", "sending", "paused")


def hold_by_admin(engine: Engine, edition_id: int, admin: str) -> bool:
    """An admin's pause; False when the edition was not being sent (held or done)."""
    reason = f"held by {admin} in the console; resume it there or with `m5syndicate send --resume`"
    with engine.begin() as conn:
        return edition_store.hold_edition(conn, edition_id, "admin", reason, ADMIN_HOLDABLE)


def resume(engine: Engine, edition_id: int) -> bool:
    """held -> sending; False when it was not held."""
    with engine.begin() as conn:
        return edition_store.resume_held(conn, edition_id)


def resume_by_slug(engine: Engine, slug: str) -> Edition:
    """`send --resume daily-2026-11-28`: the edition, no longer held."""
    with engine.begin() as conn:
        edition = edition_store.find_edition_by_slug(conn, slug)
        if edition is None:
            raise NotFound(
                f"send --resume: no edition {slug!r}; write it as CADENCE-PERIOD, e.g. "
                "daily-2026-11-28 (`m5syndicate status` lists the paused ones)"
            )
        if edition.state == "done":
            raise InputError(f"send --resume: {slug} is done; nothing to resume")
        edition_store.resume_held(conn, edition.id or 0)
    return edition

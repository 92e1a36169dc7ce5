"""The `send_due` use case: freeze the due editions and deliver them through the ledger.

Called by `m5syndicate send`, the scheduler and the demo alike. For each edition it opens
the ledger (a delivery per confirmed subscriber on the first run), lets the runner
(runner.py) claim and deliver, then closes it: done, paused, or left for a resume.

Temporary failures go back to pending with a growing delay, up to ``max_attempts``;
permanent ones are recorded with the server's reply, and a hard bounce (5.1.x) suppresses
the address (policy.py). ``pause_after`` failures in a row pause the edition. Setting
``stop`` (the CLI does on SIGINT/SIGTERM) stops claiming; messages in flight finish; the
rest go back.

The database may go away for `[database] outage_grace_seconds`: every call rides it out
(outage.py), and a run that had to stop because its leases could not be renewed starts
again (fresh claims) once the database answers, within the same grace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from m5syndicate.config import Settings
from m5syndicate.delivery.outage import LeasesLost, gave_up, ride_out
from m5syndicate.delivery.pacing import Budget, Clock
from m5syndicate.delivery.parts import SendOptions, SendParts
from m5syndicate.delivery.reports import (
    EditionReport,
    Meter,
    Progress,
    ProgressCallback,
    SendReport,
    Tally,
)
from m5syndicate.delivery.runner import EditionRun
from m5syndicate.digest.editions import editions_to_send
from m5syndicate.metrics import Metrics
from m5syndicate.models import Edition
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store

__all__ = [
    "EditionReport",
    "Progress",
    "SendOptions",
    "SendParts",
    "SendReport",
    "Tally",
    "send_due",
]
DEFAULT_OPTIONS = SendOptions()
log = logging.getLogger("m5.send")


async def send_due(
    parts: SendParts,
    now: datetime,
    options: SendOptions = DEFAULT_OPTIONS,
    stop: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> SendReport:
    """Freeze and deliver every due edition of the chosen cadences."""
    stop = stop or asyncio.Event()
    clock = Clock(now)
    grace = parts.settings.database.outage_grace_seconds
    budget = await ride_out(
        "counting today's messages",
        grace,
        lambda: make_budget(parts.engine, parts.settings, options, now),
    )
    sending = Sending(parts, clock, budget, stop, options, on_progress)
    report = SendReport()
    for cadence in options.cadences:

        def due(cadence: str = cadence) -> list[Edition]:
            return editions_to_send(
                parts.engine,
                cadence,
                now,
                parts.settings.newsletter,
                parts.settings.site.timezone,
                freeze_due=not options.resume_only,
            )

        editions = await ride_out("finding the due editions", grace, due)
        for edition in editions:
            if stop.is_set() or budget.exhausted:
                break
            report.editions.append(await deliver_again(sending, edition))
            if parts.metrics is not None:
                count_sending(parts.metrics, report.editions[-1])
    if stop.is_set():
        report.stopped = "interrupted"
    elif budget.exhausted:
        report.stopped = budget.reason
    return report


def make_budget(engine: Engine, settings: Settings, options: SendOptions, now: datetime) -> Budget:
    budget = Budget(options.limit, "--limit reached")
    cap = settings.delivery.daily_cap
    if cap:
        with engine.connect() as conn:
            sent = ledger.count_sent_since(conn, now - timedelta(hours=24))
        if budget.left is None or cap - sent < budget.left:
            budget = Budget(max(cap - sent, 0), f"daily cap of {cap} messages reached")
    return budget


@dataclass(frozen=True)
class Sending:
    """What every edition of one `send_due` call shares."""

    parts: SendParts
    clock: Clock
    budget: Budget
    stop: asyncio.Event
    options: SendOptions
    on_progress: ProgressCallback | None

    @property
    def grace(self) -> float:
        return self.parts.settings.database.outage_grace_seconds


async def deliver_again(sending: Sending, edition: Edition) -> EditionReport:
    """deliver_edition, started again when its leases were lost to a database outage,
    until the outage has lasted `outage_grace_seconds`."""
    first_lost: float | None = None  # a renewer that keeps failing run after run gives up
    while True:
        try:
            return await deliver_edition(sending, edition)
        except LeasesLost as exc:
            first_lost = first_lost or exc.since
            if time.monotonic() - first_lost >= sending.grace or sending.stop.is_set():
                raise gave_up(f"delivering {edition.slug}", sending.grace, exc) from exc
            log.warning(
                "%s: the leases were lost (%s); starting again with fresh claims",
                edition.slug,
                exc.__cause__ or exc,
            )
            await asyncio.sleep(1.0)


async def deliver_edition(sending: Sending, edition: Edition) -> EditionReport:
    """Open the edition's ledger, run it, close it (also when the run failed). An edition
    held since it was listed is not run: the report says why it is held."""
    parts, clock = sending.parts, sending.clock
    opened = await ride_out(
        f"opening {edition.slug}",
        sending.grace,
        lambda: open_edition(parts.engine, edition, sending.options.retry_failed, clock.now()),
    )
    total, finished = opened or (0, 0)
    meter = Meter(edition.slug, total, finished, sending.on_progress)
    run = EditionRun(parts, edition, clock, sending.budget, sending.stop, meter)
    try:
        if opened is not None:
            await run.run()
    finally:
        report = await ride_out(
            f"closing {edition.slug}",
            sending.grace,
            lambda: close_edition(parts.engine, edition, run.worker, run.paused, clock.now()),
        )
    report.tally, report.elapsed = meter.tally, meter.elapsed()
    return report


def open_edition(
    engine: Engine, edition: Edition, retry_failed: bool, now: datetime
) -> tuple[int, int] | None:
    """Deliveries for every confirmed subscriber (first run), or resume a relay pause;
    returns (deliveries in all, already finished), or None when the edition is held."""
    edition_id = edition.id or 0
    with engine.begin() as conn:
        if not edition_store.start_sending(conn, edition_id):
            return None
        if edition.state == "open":
            ledger.populate_deliveries(conn, edition_id, edition.cadence, now)
        if retry_failed:
            ledger.retry_failed(conn, edition_id)
        counts = ledger.edition_counts(conn, edition_id)
    edition.state, edition.pause_cause, edition.pause_reason = "sending", "", ""
    return sum(counts.values()), sum(counts[state] for state in ledger.FINAL_STATES)


def close_edition(
    engine: Engine, edition: Edition, worker: str | None, paused: str, now: datetime
) -> EditionReport:
    """Release what this run still holds (``worker``; None: a parent that holds
    nothing); mark the edition paused (this run saw the relay fail) or done, unless
    someone paused or held it meanwhile: that stays."""
    edition_id = edition.id or 0
    with engine.begin() as conn:
        if worker is not None:
            ledger.release_worker(conn, edition_id, worker)
        counts = ledger.edition_counts(conn, edition_id)
        if paused:
            edition_store.pause_for_relay(conn, edition_id, paused)
        elif counts["pending"] + counts["sending"] == 0:
            edition_store.finish_sending(conn, edition_id, now)
        current = edition_store.edition_state(conn, edition_id)
        failures = ledger.failed_deliveries(conn, edition_id)
    if current is not None:
        edition.state, edition.finished_at = current.state, current.finished_at
        edition.pause_cause, edition.pause_reason = current.pause_cause, current.pause_reason
    return EditionReport(edition, Tally(), counts, failures, edition.pause)


def count_sending(metrics: Metrics, edition: EditionReport) -> None:
    cadence = edition.edition.cadence
    metrics.messages_sent.labels(cadence=cadence).inc(edition.tally.sent)
    metrics.smtp_replies.labels(code="250").inc(edition.tally.sent)
    for _address, code, _reply in edition.failures:
        metrics.smtp_replies.labels(code=str(code or "none")).inc()


# --- several processes (processes.py): the parent opens the editions and closes them ----


@dataclass
class OpenEdition:
    edition: Edition
    total: int  # deliveries in all
    finished: int  # finished before this run

    @property
    def left(self) -> int:
        return self.total - self.finished


@dataclass
class OpenedSend:
    """The due editions, frozen and opened once by the parent, and the run's budget."""

    editions: list[OpenEdition]
    budget: Budget

    def processes_for(self, wanted: int, settings: Settings) -> int:
        """No more processes than connections, than batches of work, or than the budget
        allows: a process that could not claim a whole batch would only cost a start."""
        delivery = settings.delivery
        batches = -(-sum(e.left for e in self.editions) // delivery.batch_size)
        useful = min(wanted, delivery.concurrency, batches)
        if self.budget.left is not None:
            useful = min(useful, self.budget.left)
        return max(useful, 1)


async def open_due_editions(
    engine: Engine, settings: Settings, now: datetime, options: SendOptions
) -> OpenedSend:
    """What `send_due` does before it claims, for every due edition at once."""
    grace = settings.database.outage_grace_seconds
    budget = await ride_out(
        "counting today's messages", grace, lambda: make_budget(engine, settings, options, now)
    )
    opened = []
    for cadence in options.cadences:

        def due(cadence: str = cadence) -> list[Edition]:
            return editions_to_send(
                engine,
                cadence,
                now,
                settings.newsletter,
                settings.site.timezone,
                freeze_due=not options.resume_only,
            )

        for edition in await ride_out("finding the due editions", grace, due):

            def open_one(edition: Edition = edition) -> tuple[int, int] | None:
                return open_edition(engine, edition, options.retry_failed, now)

            counts = await ride_out(f"opening {edition.slug}", grace, open_one)
            if counts is not None:  # None: held by the guard rail or an admin, not sent
                opened.append(OpenEdition(edition, *counts))
    return OpenedSend(opened, budget)


def close_after_processes(
    engine: Engine,
    opened: OpenedSend,
    reports: Sequence[SendReport],
    elapsed: float,
    now: datetime,
) -> SendReport:
    """One summary for the children's work: their tallies added up per edition, the
    ledger's counts and failures read once they have all ended."""
    summary = SendReport()
    for entry in opened.editions:
        theirs = [
            r for report in reports for r in report.editions if r.edition.id == entry.edition.id
        ]
        if not theirs:
            continue  # no child reached it (stopped, or the budget ran out first)
        paused = next((r.paused for r in theirs if r.paused), "")
        report = close_edition(engine, entry.edition, None, paused, now)
        report.tally = add_tallies(r.tally for r in theirs)
        report.elapsed = elapsed
        summary.editions.append(report)
    stopped = [report.stopped for report in reports if report.stopped]
    if "interrupted" in stopped:
        summary.stopped = "interrupted"
    elif stopped:
        summary.stopped = opened.budget.reason
    return summary


def add_tallies(tallies: Iterable[Tally]) -> Tally:
    summed = Tally()
    for tally in tallies:
        for name in (f.name for f in fields(Tally)):
            setattr(summed, name, getattr(summed, name) + getattr(tally, name))
    return summed

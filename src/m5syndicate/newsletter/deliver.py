"""The `send_due` use case: freeze the due editions and deliver them through the ledger.

Called by `m5syndicate send`, the scheduler and the demo alike. For each edition:
deliveries are claimed in batches (with a lease, renewed while we work), each claimed
subscriber's articles are selected, their message composed from the variant's
pre-rendered body, handed to the transport, and the outcome written. A worker waits for
its outcome to be committed (many outcomes share one commit) before it takes the next
message, so a crash can leave at most one accepted-but-unrecorded message per
connection: the only possible duplicates.

Temporary failures go back to pending with a growing delay, up to ``max_attempts``;
permanent ones are recorded with the server's reply, and a hard bounce (5.1.x) suppresses
the address. ``pause_after`` failures in a row pause the edition. Setting ``stop`` (the
CLI does on SIGINT/SIGTERM) stops claiming; messages in flight finish; the rest go back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jinja2 import Environment
from sqlalchemy.engine import Engine

from m5syndicate.config import CADENCES, Settings
from m5syndicate.errors import DeliveryError, InputError, PermanentFailure
from m5syndicate.models import Edition, Recipient
from m5syndicate.newsletter.compose import Composer, Signer
from m5syndicate.newsletter.editions import Selection, editions_to_send, select_articles
from m5syndicate.newsletter.links import LinkSigner
from m5syndicate.newsletter.transport import Transport
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.deliveries import Outcome

HARD_BOUNCE = re.compile(r"\b5\.1\.\d{1,3}\b")
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class SendParts:
    """What sending needs, built by the runtime."""

    engine: Engine
    transport: Transport
    env: Environment
    settings: Settings
    links: LinkSigner
    sign: Signer | None = None


@dataclass(frozen=True)
class SendOptions:
    cadences: tuple[str, ...] = CADENCES
    limit: int | None = None  # most deliveries handled in this run
    retry_failed: bool = False  # failed deliveries of the editions become pending again
    # Only finish editions already frozen (retries, workers): a digest whose time passed
    # while nobody ran is the scheduler's to catch up or to record as missed.
    resume_only: bool = False


@dataclass
class Tally:
    """This run's outcomes for one edition."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0


@dataclass(frozen=True)
class Progress:
    edition: str
    total: int  # deliveries of the edition
    finished: int  # sent, failed or skipped, by anyone
    tally: Tally
    elapsed: float

    @property
    def rate(self) -> float:
        return self.tally.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        left = self.total - self.finished
        return left / self.rate if self.rate > 0 else None


@dataclass
class EditionReport:
    edition: Edition
    tally: Tally
    counts: Counter[str]  # the ledger's states after the run
    failures: list[tuple[str, int | None, str]]  # (address, code, reply)
    paused: str = ""  # why it paused, if it did
    elapsed: float = 0.0


@dataclass
class SendReport:
    editions: list[EditionReport] = field(default_factory=list)
    stopped: str = ""  # why the run ended early: interrupted, --limit, daily cap

    @property
    def failures(self) -> list[tuple[str, int | None, str]]:
        return [failure for report in self.editions for failure in report.failures]

    @property
    def paused(self) -> list[str]:
        return [report.paused for report in self.editions if report.paused]


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


ProgressCallback = Callable[[Progress], None]


async def send_due(
    parts: SendParts,
    now: datetime,
    options: SendOptions = SendOptions(),
    stop: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> SendReport:
    """Freeze and deliver every due edition of the chosen cadences."""
    stop = stop or asyncio.Event()
    clock = Clock(now)
    budget = await asyncio.to_thread(make_budget, parts, options, now)
    report = SendReport()
    for cadence in options.cadences:
        editions = await asyncio.to_thread(
            editions_to_send,
            parts.engine,
            cadence,
            now,
            parts.settings.newsletter,
            parts.settings.site.timezone,
            freeze_due=not options.resume_only,
        )
        for edition in editions:
            if stop.is_set() or budget.exhausted:
                break
            run = EditionRun(parts, edition, clock, budget, stop, options, on_progress)
            report.editions.append(await run.run())
    if stop.is_set():
        report.stopped = "interrupted"
    elif budget.exhausted:
        report.stopped = budget.reason
    return report


def make_budget(parts: SendParts, options: SendOptions, now: datetime) -> Budget:
    budget = Budget(options.limit, "--limit reached")
    cap = parts.settings.delivery.daily_cap
    if cap:
        with parts.engine.connect() as conn:
            sent = ledger.count_sent_since(conn, now - timedelta(hours=24))
        if budget.left is None or cap - sent < budget.left:
            budget = Budget(max(cap - sent, 0), f"daily cap of {cap} messages reached")
    return budget


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


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class EditionRun:
    """Delivers one edition: a claimer feeding `concurrency` workers and one writer."""

    def __init__(
        self,
        parts: SendParts,
        edition: Edition,
        clock: Clock,
        budget: Budget,
        stop: asyncio.Event,
        options: SendOptions,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.parts, self.edition, self.clock, self.budget = parts, edition, clock, budget
        self.stop, self.options, self.on_progress = stop, options, on_progress
        self.delivery = parts.settings.delivery
        self.worker = worker_name()
        self.article_ids = [a.id for a in edition.articles if a.id is not None]
        self.queue: asyncio.Queue[Recipient | None] = asyncio.Queue()
        self.delivered: dict[int, dict[int, str]] = {}
        self.suppressed: set[str] = set()
        self.limiter = RateLimit(self.delivery.rate_per_second)
        self.composer = Composer(
            parts.env,
            edition,
            parts.settings.site,
            parts.settings.newsletter,
            parts.links,
            clock.now(),
            parts.sign,
        )
        self.tally = Tally()
        self.failures_in_a_row = 0
        self.paused = ""
        self.error: BaseException | None = None
        self.busy = 0
        self.changed = asyncio.Event()  # a worker finished a message
        self.total = 0
        self.finished_before = 0
        self.started = time.monotonic()
        self.writer: OutcomeWriter | None = None

    @property
    def halted(self) -> bool:
        return self.stop.is_set() or bool(self.paused) or self.error is not None

    async def run(self) -> EditionReport:
        await asyncio.to_thread(self.begin)
        self.writer = OutcomeWriter(self.parts.engine, self.clock, self.committed)
        workers = [asyncio.create_task(self.work()) for _ in range(self.delivery.concurrency)]
        renewer = asyncio.create_task(self.renew_leases())
        try:
            await self.feed()
        finally:
            for _ in workers:
                self.queue.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            renewer.cancel()
            await self.writer.close()
            report = await asyncio.to_thread(self.end)
        if self.error is not None:
            raise self.error
        return report

    def begin(self) -> None:
        """Deliveries for every confirmed subscriber (first run), or resume a pause."""
        edition_id = self.edition.id or 0
        with self.parts.engine.begin() as conn:
            if self.edition.state == "open":
                ledger.populate_deliveries(conn, edition_id, self.edition.cadence, self.clock.now())
            if self.options.retry_failed:
                ledger.retry_failed(conn, edition_id)
            edition_store.set_edition_state(conn, edition_id, "sending")
            counts = ledger.edition_counts(conn, edition_id)
        self.edition.state = "sending"
        self.total = sum(counts.values())
        self.finished_before = sum(counts[state] for state in ledger.FINAL_STATES)

    def end(self) -> EditionReport:
        edition_id = self.edition.id or 0
        with self.parts.engine.begin() as conn:
            ledger.release_worker(conn, edition_id, self.worker)
            counts = ledger.edition_counts(conn, edition_id)
            if self.paused:
                self.edition.state = "paused"
                edition_store.set_edition_state(conn, edition_id, "paused")
            elif counts["pending"] + counts["sending"] == 0:
                self.edition.state = "done"
                edition_store.set_edition_state(conn, edition_id, "done", self.clock.now())
            failures = ledger.failed_deliveries(conn, edition_id)
        return EditionReport(
            self.edition,
            self.tally,
            counts,
            failures,
            self.paused,
            time.monotonic() - self.started,
        )

    # --- claiming -----------------------------------------------------------------

    async def feed(self) -> None:
        """Claim batches while there is work; wait for retries that fall due."""
        low_water = self.delivery.concurrency * 2
        while not self.halted:
            if self.queue.qsize() > low_water:
                await self.wait_for_change(1.0)
                continue
            wanted = self.budget.take(self.delivery.batch_size)
            if wanted == 0:
                return
            batch = await asyncio.to_thread(self.claim, wanted)
            self.budget.give_back(wanted - len(batch))
            for recipient in batch:
                self.queue.put_nowait(recipient)
            if batch:
                continue
            if self.queue.qsize() or self.busy:
                await self.wait_for_change(1.0)
                continue
            due = await asyncio.to_thread(self.next_due)
            if due is None:
                return
            await self.wait_for_change(max((due - self.clock.now()).total_seconds(), 0.05))

    async def wait_for_change(self, timeout: float) -> None:
        self.changed.clear()
        waits = [asyncio.create_task(self.changed.wait()), asyncio.create_task(self.stop.wait())]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()

    def claim(self, limit: int) -> list[Recipient]:
        now = self.clock.now()
        lease = now + timedelta(seconds=self.delivery.lease_seconds)
        with self.parts.engine.begin() as conn:
            batch = ledger.claim_batch(conn, self.edition.id or 0, self.worker, now, lease, limit)
            ids = [recipient.subscriber_id for recipient in batch]
            self.delivered.update(ledger.delivered_hashes(conn, ids, self.article_ids))
            self.suppressed |= subscriber_store.suppressed_among(conn, [r.email for r in batch])
        return batch

    def next_due(self) -> datetime | None:
        with self.parts.engine.connect() as conn:
            return ledger.next_due_at(conn, self.edition.id or 0)

    async def renew_leases(self) -> None:
        interval = max(self.delivery.lease_seconds / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            until = self.clock.now() + timedelta(seconds=self.delivery.lease_seconds)
            await asyncio.to_thread(self.renew, until)

    def renew(self, until: datetime) -> None:
        with self.parts.engine.begin() as conn:
            ledger.renew_leases(conn, self.edition.id or 0, self.worker, until)

    # --- sending ------------------------------------------------------------------

    async def work(self) -> None:
        assert self.writer is not None
        while True:
            recipient = await self.queue.get()
            if recipient is None or self.halted:
                if recipient is None:
                    return
                continue  # left claimed: `end` releases it
            self.busy += 1
            try:
                outcome = await self.deliver(recipient)
                await self.writer.record(outcome)  # durable before the next message
            except BaseException as exc:  # a broken template or database stops the run
                self.error = self.error or exc
                self.stop_claiming()
            finally:
                self.busy -= 1
                self.changed.set()

    def stop_claiming(self) -> None:
        self.changed.set()

    async def deliver(self, recipient: Recipient) -> Outcome:
        selection = self.selection_for(recipient)
        if isinstance(selection, str):
            return self.outcome(recipient, "skipped", selection)
        try:
            envelope, message_id = self.composer.compose(recipient, selection, signed=False)
        except InputError as exc:
            return self.outcome(recipient, "failed", str(exc))
        if self.parts.sign is not None:
            # Inline: signing on worker threads was measured to cost more CPU per message
            # on two cores (BENCHMARKS.md, Send), not less.
            envelope = dataclasses.replace(envelope, data=self.parts.sign(envelope.data))
        await self.limiter.wait()
        try:
            reply = await self.parts.transport.send(envelope)
        except DeliveryError as exc:
            return self.failed(recipient, exc)
        except Exception as exc:  # an unexpected transport error is a temporary one
            return self.failed(recipient, DeliveryError(f"{type(exc).__name__}: {exc}"))
        self.failures_in_a_row = 0
        outcome = self.outcome(recipient, "sent", "", code_of(reply))
        outcome.message_id, outcome.articles = message_id, selection.sent_articles
        return outcome

    def selection_for(self, recipient: Recipient) -> Selection | str:
        if recipient.status != "confirmed":
            return f"subscriber is {recipient.status} now"
        if recipient.email in self.suppressed:
            return "address is suppressed"
        delivered = self.delivered.pop(recipient.subscriber_id, {})
        return select_articles(self.edition, recipient, delivered, self.parts.settings.newsletter)

    def failed(self, recipient: Recipient, exc: DeliveryError) -> Outcome:
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= self.delivery.pause_after and not self.paused:
            self.paused = (
                f"{self.failures_in_a_row} deliveries failed in a row (last: {exc}); "
                "check the relay and [delivery] smtp_url, then run `m5syndicate send` again "
                "to resume"
            )
        if isinstance(exc, PermanentFailure):
            outcome = self.outcome(recipient, "failed", str(exc), exc.code)
            outcome.suppress = bool(HARD_BOUNCE.search(str(exc)))
            return outcome
        if recipient.attempts >= self.delivery.max_attempts:
            error = f"gave up after {recipient.attempts} attempts; last: {exc}"
            return self.outcome(recipient, "failed", error, exc.code)
        outcome = self.outcome(recipient, "pending", str(exc), exc.code)
        outcome.next_attempt_at = self.clock.now() + retry_delay(
            self.delivery.retry_seconds, recipient.attempts
        )
        return outcome

    def outcome(
        self, recipient: Recipient, state: str, error: str, code: int | None = None
    ) -> Outcome:
        return Outcome(
            recipient.delivery_id,
            recipient.subscriber_id,
            state,
            error=error,
            smtp_code=code,
            email=recipient.email,
        )

    def committed(self, outcomes: Sequence[Outcome]) -> None:
        """Called after each commit: count, and report progress."""
        for outcome in outcomes:
            if outcome.state == "pending":
                self.tally.retried += 1
            elif outcome.state in ("sent", "failed", "skipped"):
                setattr(self.tally, outcome.state, getattr(self.tally, outcome.state) + 1)
        if self.on_progress is not None:
            finished = self.finished_before + self.tally.sent + self.tally.failed
            finished += self.tally.skipped
            self.on_progress(
                Progress(
                    self.edition.slug,
                    self.total,
                    finished,
                    self.tally,
                    time.monotonic() - self.started,
                )
            )


def retry_delay(base_seconds: float, attempts: int) -> timedelta:
    """base, 2 x base, 4 x base... capped at an hour."""
    delay = timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY_DELAY)


def code_of(reply: str) -> int | None:
    head = reply[:3]
    return int(head) if head.isdigit() else None


class OutcomeWriter:
    """Group commit: outcomes recorded while a commit runs go into the next one."""

    def __init__(
        self, engine: Engine, clock: Clock, on_commit: Callable[[Sequence[Outcome]], None]
    ) -> None:
        self.engine, self.clock, self.on_commit = engine, clock, on_commit
        self.buffer: list[tuple[Outcome, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.closing = False
        self.task = asyncio.create_task(self.loop())

    async def record(self, outcome: Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer.append((outcome, future))
        self.wake.set()
        await future

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
            await asyncio.to_thread(self.write, outcomes)
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        self.on_commit(outcomes)
        for _, future in batch:
            future.set_result(None)

    def write(self, outcomes: Sequence[Outcome]) -> None:
        with self.engine.begin() as conn:
            ledger.record_outcomes(conn, outcomes, self.clock.now())

    async def close(self) -> None:
        self.closing = True
        self.wake.set()
        await self.task

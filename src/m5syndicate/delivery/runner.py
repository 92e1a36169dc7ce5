"""The runner of one edition: claims deliveries, works them, renews their leases.

A claimer keeps a queue of claimed recipients topped up for `concurrency` workers; each
worker composes a message from the variant's pre-rendered body and hands it to the
transport, and its outcome to the writer (writer.py, group commit). The worker goes on
with its next message while that outcome is committed: MAIL, RCPT, DATA and the whole
message travel meanwhile, and only the final dot waits for the commit (the transport's
go-ahead). Until its dot a message is not accepted, so a crash still leaves at most one
accepted-but-unrecorded message per connection; if the commit fails, the waiting message
is dropped unfinished and goes back untouched. What a failure becomes is policy.py's
decision; opening and closing the edition is send.py's.

A relay that went away is ridden out (relay.py): the same message is offered again,
with backoff, for `[delivery] relay_outage_grace_seconds`, then the run stops.

The renewer keeps the leases of claimed rows alive. When it fails it logs and retries;
no message is started once the leases may have run out (another sender may have taken
the rows), and the run stops with LeasesLost: nothing dies quietly. Database calls ride
out an outage of `[database] outage_grace_seconds` (outage.py).

A pause written elsewhere (the bounce guard rail, the console) holds: claims take rows
only while the edition is "sending" (store/deliveries.py), and when a claim comes back
empty, and at every lease renewal, the runner reads the edition's state; once it is no
longer sending, no queued message is started (their rows go back when the run closes).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from m5syndicate.bounces.verp import delivery_signer
from m5syndicate.delivery import policy
from m5syndicate.delivery.outage import LeasesLost, first_line, is_outage, ride_out
from m5syndicate.delivery.pacing import Budget, Clock, RateLimit
from m5syndicate.delivery.parts import SendParts
from m5syndicate.delivery.relay import RelayDown, RelayWatch, Stopped
from m5syndicate.delivery.reports import Meter
from m5syndicate.delivery.writer import OutcomeWriter
from m5syndicate.digest.compose import Composer
from m5syndicate.digest.editions import Selection, select_articles
from m5syndicate.errors import DeliveryError, InputError, StoreError
from m5syndicate.mail.transport import GoAhead, HeldBack
from m5syndicate.models import Edition, Recipient
from m5syndicate.store import deliveries as ledger
from m5syndicate.store import editions as edition_store
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.store.deliveries import Outcome

log = logging.getLogger("m5.send")
Renew = Callable[[datetime], object]
OTHERS_POLL_SECONDS = 1.0  # longest wait before looking at the ledger again
SIGNING_THREADS = 2


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def code_of(reply: str) -> int | None:
    head = reply[:3]
    return int(head) if head.isdigit() else None


class EditionRun:
    """Delivers one edition: a claimer feeding `concurrency` workers and one writer."""

    def __init__(
        self,
        parts: SendParts,
        edition: Edition,
        clock: Clock,
        budget: Budget,
        stop: asyncio.Event,
        meter: Meter,
    ) -> None:
        self.parts, self.edition, self.clock, self.budget = parts, edition, clock, budget
        self.stop, self.meter = stop, meter
        self.delivery = parts.settings.delivery
        self.worker = worker_name()
        self.article_ids = [a.id for a in edition.articles if a.id is not None]
        self.queue: asyncio.Queue[Recipient | None] = asyncio.Queue()
        self.delivered: dict[int, dict[int, str]] = {}  # subscriber -> article -> hash sent
        self.suppressed: set[str] = set()
        self.limiter = RateLimit(self.delivery.rate_per_second)
        self.relay = RelayWatch(self.delivery.relay_outage_grace_seconds, stop)
        settings = parts.settings
        self.composer = Composer(
            parts.env,
            edition,
            settings.site,
            settings.newsletter,
            parts.links,
            clock.now(),
            verp=delivery_signer(settings),
            category_names=settings.feeds.category_labels,
        )
        self.failures_in_a_row = 0
        self.paused = ""  # why this run paused the edition, once it has
        self.stopped_by = ""  # why the edition stopped being sent, paused by someone else
        self.error: Exception | None = None  # what stopped the run (a template, the database)
        self.busy = 0  # deliveries started and not yet durable on the ledger
        self.changed = asyncio.Event()  # a worker finished a message
        self.grace = parts.settings.database.outage_grace_seconds
        self.lease_deadline: datetime | None = None  # the earliest lease we hold ends
        self.renew_fn: Renew = self.renew  # tests inject failures here
        # RSA signing in `cryptography` (since its 2026 releases; 50 here) and hashing
        # 36 KB in hashlib release the GIL: on these threads they take a second core
        # while the loop sends (BENCHMARKS.md, Send at wire speed).
        self.signing = ThreadPoolExecutor(SIGNING_THREADS, "m5-dkim") if parts.sign else None

    @property
    def halted(self) -> bool:
        return self.stop.is_set() or bool(self.paused or self.stopped_by) or self.error is not None

    async def run(self) -> None:
        writer = OutcomeWriter(
            self.parts.engine, self.clock, self.meter.committed, self.worker, self.grace
        )
        workers = [asyncio.create_task(self.work(writer)) for _ in range(self.delivery.concurrency)]
        renewer = asyncio.create_task(self.renew_leases())
        try:
            await self.feed()
        finally:
            for _ in workers:
                self.queue.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            renewer.cancel()
            await writer.close()
            if self.signing is not None:
                self.signing.shutdown()
        if self.error is not None:
            raise self.error

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
            claim = functools.partial(self.claim, wanted)
            batch = await ride_out("claiming deliveries", self.grace, claim)
            self.budget.give_back(wanted - len(batch))
            for recipient in batch:
                self.queue.put_nowait(recipient)
            if batch:
                continue
            if self.queue.qsize() or self.busy:
                await self.wait_for_change(1.0)
                continue
            due = await ride_out("reading the ledger", self.grace, self.next_due)
            if due is None:
                return
            # `due` is often another sender's lease end (another process of `send
            # --processes`, a worker): it may finish its rows long before, so look again
            # soon and end with the edition, not a lease later.
            wait = (due - self.clock.now()).total_seconds()
            await self.wait_for_change(min(max(wait, 0.05), OTHERS_POLL_SECONDS))

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
            edition_id = self.edition.id
            self.delivered.update(ledger.delivered_hashes(conn, ids, self.article_ids, edition_id))
            self.suppressed |= subscriber_store.suppressed_among(conn, [r.email for r in batch])
            if not batch:
                self.check_edition(conn)
        if batch and self.lease_deadline is None:
            self.lease_deadline = lease
        return batch

    def next_due(self) -> datetime | None:
        with self.parts.engine.connect() as conn:
            return ledger.next_due_at(conn, self.edition.id or 0)

    @property
    def renew_interval(self) -> float:
        return max(self.delivery.lease_seconds / 3, 0.2)

    async def renew_leases(self) -> None:
        """Every third of a lease; a failure is logged and retried soon, and when the
        leases may run out before a renewal succeeds the run stops (LeasesLost)."""
        failing_since: float | None = None
        wait = self.renew_interval
        while not self.halted:
            await asyncio.sleep(wait)
            until = self.clock.now() + timedelta(seconds=self.delivery.lease_seconds)
            try:
                await asyncio.to_thread(self.renew_fn, until)
            except Exception as exc:
                if isinstance(exc, LeasesBehind):  # those rows' leases end first
                    self.lease_deadline = min(self.lease_deadline or exc.earliest, exc.earliest)
                failing_since = failing_since or time.monotonic()
                log.warning("could not renew the delivery leases (%s); retrying", first_line(exc))
                if not self.lease_holds():
                    lost = leases_lost(exc, failing_since, is_outage(exc))
                    lost.__cause__ = exc
                    self.error = self.error or lost
                    self.changed.set()
                    return
                wait = min(1.0, self.renew_interval)
                continue
            if failing_since is not None:
                log.info("delivery leases renewed again")
            failing_since, wait = None, self.renew_interval
            self.lease_deadline = until

    def lease_holds(self) -> bool:
        """Can a message still be started under our leases? Not in their last third:
        a renewal is then overdue, and another sender may soon take the rows."""
        if self.lease_deadline is None:
            return True
        margin = timedelta(seconds=self.renew_interval)
        return self.clock.now() < self.lease_deadline - margin

    def renew(self, until: datetime) -> None:
        """Renew every lease we hold. A row another transaction holds locked is skipped
        by the renewal (SKIP LOCKED); one skipped twice in a row (our own writer holds
        a row only for a moment) raises LeasesBehind with its lease's end, so the run
        stops before it: another sender would take the row while it waits in our queue."""
        edition_id = self.edition.id or 0
        with self.parts.engine.begin() as conn:
            ledger.renew_leases(conn, edition_id, self.worker, until)
            self.check_edition(conn)
        with self.parts.engine.connect() as conn:
            earliest = ledger.earliest_unrenewed_lease(conn, edition_id, self.worker, until)
        # Renewed last time, a row has about two intervals left; skipped last time, one.
        soon = self.clock.now() + timedelta(seconds=1.5 * self.renew_interval)
        if earliest is not None and earliest < soon:
            raise LeasesBehind(
                "claimed deliveries locked by another transaction kept their old lease",
                earliest,
            )

    def check_edition(self, conn: Connection) -> None:
        """Stop when someone paused, held or finished the edition (one primary-key read)."""
        current = edition_store.edition_state(conn, self.edition.id or 0)
        if current is not None and current.state != "sending":
            self.stopped_by = current.pause or current.state

    # --- sending ------------------------------------------------------------------

    async def work(self, writer: OutcomeWriter) -> None:
        recorded: asyncio.Future[None] | None = None  # this worker's last outcome, durable
        while (recipient := await self.queue.get()) is not None:
            if self.halted:
                continue  # left claimed: closing the edition releases it
            self.busy += 1  # until its outcome is durable
            if not self.lease_holds():
                # Another sender may have the row by now: not ours to send. Given back
                # (a release applies only while the row is still ours), it is claimed
                # again with a fresh lease; left claimed, our renewer would keep it
                # from everyone, this run included, for as long as the run lasts.
                self.record(writer, outcome_of(recipient, "released", ""))
                continue
            try:
                outcome = await self.deliver(recipient, self.go_ahead_after(recorded))
            except Exception as exc:  # a broken template or database stops the run
                self.error = self.error or exc
                self.done_with_one()
                continue
            recorded = self.record(writer, outcome)
        if recorded is not None:
            await self.settled(recorded)

    def record(self, writer: OutcomeWriter, outcome: Outcome) -> asyncio.Future[None]:
        """Hand ``outcome`` to the writer; done with that delivery once it is durable."""
        future = writer.submit(outcome)
        future.add_done_callback(self.recorded)
        return future

    def recorded(self, future: asyncio.Future[None]) -> None:
        failure = None if future.cancelled() else future.exception()
        if isinstance(failure, Exception):
            self.error = self.error or failure
        self.done_with_one()

    def done_with_one(self) -> None:
        self.busy -= 1
        self.changed.set()

    def go_ahead_after(self, recorded: asyncio.Future[None] | None) -> GoAhead | None:
        """The transport's go-ahead for the next message: this worker's previous outcome
        durable. If it cannot be written, the next message is held back."""
        if recorded is None or (recorded.done() and recorded.exception() is None):
            return None

        async def go_ahead() -> None:
            if not await self.settled(recorded):
                raise HeldBack("the previous outcome could not be recorded")

        return go_ahead

    async def settled(self, recorded: asyncio.Future[None]) -> bool:
        """Wait for an outcome to be durable; False if it could not be (the run stops:
        the error is the run's, see `recorded`)."""
        try:
            await asyncio.shield(recorded)  # a cancelled waiter must not cancel the write
        except Exception:
            return False
        return True

    async def deliver(self, recipient: Recipient, go_ahead: GoAhead | None = None) -> Outcome:
        selection = self.selection_for(recipient)
        if isinstance(selection, str):
            return outcome_of(recipient, "skipped", selection)
        try:
            envelope, message_id = self.composer.compose(recipient, selection, signed=False)
        except InputError as exc:
            return outcome_of(recipient, "failed", str(exc))
        if self.parts.sign is not None:
            loop = asyncio.get_running_loop()
            envelope = await loop.run_in_executor(self.signing, envelope.signed_by, self.parts.sign)
        await self.limiter.wait()
        try:
            reply = await self.relay.send(lambda: self.parts.transport.send(envelope, go_ahead))
        except RelayDown:
            raise  # the relay stayed away: the run stops, this row goes back untouched
        except (Stopped, HeldBack):
            return outcome_of(recipient, "released", "")  # nobody was mailed
        except DeliveryError as exc:
            outcome = self.failed(recipient, exc)
        except Exception as exc:  # an unexpected transport error is a temporary one
            outcome = self.failed(recipient, DeliveryError(f"{type(exc).__name__}: {exc}"))
        else:
            self.failures_in_a_row = 0  # the relay works
            outcome = outcome_of(recipient, "sent", "", code_of(reply))
        if outcome.state in ledger.DELIVERED_STATES:  # sent, or counted as sent
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
        verdict = policy.judge(exc, recipient.attempts, self.delivery)
        if verdict.relay_level:
            self.failures_in_a_row += 1
        else:
            self.failures_in_a_row = 0  # the relay answered for this recipient: it works
        self.paused = (
            self.paused
            or verdict.pause
            or policy.pause_reason(self.failures_in_a_row, self.delivery.pause_after, exc)
        )
        outcome = outcome_of(recipient, verdict.state, verdict.error, verdict.code)
        outcome.suppress, outcome.attempted = verdict.suppress, verdict.attempted

        if verdict.retry_in is not None:
            outcome.next_attempt_at = self.clock.now() + verdict.retry_in
        return outcome


class LeasesBehind(StoreError):
    """Some leases could not be renewed (rows locked elsewhere): retried like a failed
    renewal, and the run stops before ``earliest``, the first of those leases' end."""

    def __init__(self, message: str, earliest: datetime) -> None:
        super().__init__(message)
        self.earliest = earliest


def leases_lost(exc: BaseException, since: float, outage: bool) -> LeasesLost:
    cause = "the database is unreachable" if outage else "renewing them fails"
    return LeasesLost(
        f"send: could not renew the delivery leases ({first_line(exc)}): {cause}; stopped "
        "before they ran out so that no message goes out twice; nothing lost: run "
        "`m5syndicate send` again",
        since,
    )


def outcome_of(recipient: Recipient, state: str, error: str, code: int | None = None) -> Outcome:
    return Outcome(
        recipient.delivery_id,
        recipient.subscriber_id,
        state,
        error=error,
        smtp_code=code,
        email=recipient.email,
    )

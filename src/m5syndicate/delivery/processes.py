"""`send --processes N`: N sending processes on one machine, sharing editions through the
ledger's claims exactly as `worker` processes on other machines do.

The parent freezes and opens the due editions once (so the children never race to freeze
one), splits the connections, the rate and the budget (--limit, daily cap) among the
children, starts them, and adds up what they report through one pipe each. It sends no
mail itself.

Children are forked when the parent runs a single thread (its event loop closed, its
database connections closed): a forked child starts in milliseconds with the program
already imported, where a spawned one spends about 2 s of CPU importing it again
(BENCHMARKS.md, Several processes). A parent with other threads spawns instead: a fork
copies only the forking thread, and a lock another thread held would stay held forever.

A child is `send_due` with ``resume_only``: it claims batches under its own worker name,
so a child that dies leaves rows whose lease runs out and the others retake them. It
stops cleanly (finishes its messages in flight, releases its claims) on SIGTERM, which the
parent sends on its own first SIGINT/SIGTERM, and when the parent dies. It ignores SIGINT:
Ctrl-C reaches the whole process group, and the parent decides what it means.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from m5syndicate.config import Settings
from m5syndicate.delivery.parts import SendOptions, SendParts
from m5syndicate.delivery.reports import Progress, ProgressCallback, SendReport, Tally
from m5syndicate.delivery.send import add_tallies, send_due
from m5syndicate.errors import DeliveryError, M5Error

PROGRESS_EVERY = 0.2  # seconds between a child's progress messages: the pipe stays quiet
Sending = Callable[[], contextlib.AbstractAsyncContextManager[SendParts]]


@dataclass(frozen=True)
class ChildJob:
    """What one sending process is given (pickled to it)."""

    index: int
    settings: Settings  # with this child's share of connections and rate
    options: SendOptions  # resume_only, with this child's share of the budget
    now: datetime  # the parent's clock when it started the children...
    wall: float  # ...and time.time() then: the child moves `now` on by what passed since


@dataclass(frozen=True)
class Snapshot:
    """A child's tally of one edition so far."""

    child: int
    edition: str
    tally: Tally


@dataclass(frozen=True)
class Finished:
    report: SendReport


@dataclass(frozen=True)
class Failed:
    message: str


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` shares that differ by at most one."""
    share, rest = divmod(total, parts)
    return [share + (1 if index < rest else 0) for index in range(parts)]


def child_jobs(
    settings: Settings, options: SendOptions, now: datetime, processes: int, budget: int | None
) -> list[ChildJob]:
    """One job per process: connections, rate and budget split so the whole send keeps
    to the configured `[delivery] concurrency`, `rate_per_second` and limits."""
    delivery = settings.delivery
    connections = split(delivery.concurrency, processes)
    limits = split(budget, processes) if budget is not None else [None] * processes
    rate = delivery.rate_per_second / processes
    wall = time.time()
    jobs = []
    for index in range(processes):
        share = delivery.model_copy(
            update={"concurrency": connections[index], "rate_per_second": rate}
        )
        child_settings = settings.model_copy(update={"delivery": share})
        child_options = replace(options, limit=limits[index], retry_failed=False, resume_only=True)
        jobs.append(ChildJob(index, child_settings, child_options, now, wall))
    return jobs


# --- the child ------------------------------------------------------------------------


async def serve_as_child(sending: Sending, job: ChildJob, pipe: Connection) -> None:
    """Run `send_due` in a child; report progress and the outcome to the parent."""
    stop = asyncio.Event()
    watch_for_stop(stop)
    now = job.now + timedelta(seconds=time.time() - job.wall)
    relay = ProgressRelay(pipe, job.index)
    try:
        async with sending() as parts:
            report = await send_due(parts, now, job.options, stop, relay)
    except M5Error as exc:
        tell(pipe, Failed(str(exc)))
        return
    except Exception as exc:  # a bug: the parent says so instead of a silent exit
        tell(pipe, Failed(f"send: process {job.index + 1} failed: {type(exc).__name__}: {exc}"))
        raise
    relay.flush()
    tell(pipe, Finished(report))


def ignore_interrupts() -> None:
    """First thing in a child: Ctrl-C is the parent's to interpret, and a forked child
    drops the parent's SIGTERM handler (its event loop installs the child's own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def watch_for_stop(stop: asyncio.Event) -> None:
    """SIGTERM (from the parent, or systemd) or the parent's death: stop cleanly.
    Repeated SIGTERMs change nothing: aborting is the parent's decision (SIGKILL)."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    parent = multiprocessing.parent_process()
    if parent is not None:

        def parent_gone() -> None:
            loop.remove_reader(parent.sentinel)
            stop.set()

        loop.add_reader(parent.sentinel, parent_gone)


def tell(pipe: Connection, message: object) -> None:
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        pipe.send(message)


class ProgressRelay:
    """The child's progress callback: the latest tally per edition, sent at most every
    PROGRESS_EVERY seconds (and when an edition finishes)."""

    def __init__(self, pipe: Connection, child: int) -> None:
        self.pipe, self.child = pipe, child
        self.last = 0.0
        self.pending: Snapshot | None = None

    def __call__(self, progress: Progress) -> None:
        if self.pending is not None and self.pending.edition != progress.edition:
            self.flush()  # the previous edition's last tally, before the next one's
        self.pending = Snapshot(self.child, progress.edition, replace(progress.tally))
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY or progress.finished >= progress.total:
            self.last = now
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            tell(self.pipe, self.pending)
            self.pending = None


# --- the parent -----------------------------------------------------------------------


def process_context() -> ForkContext | SpawnContext:
    """Fork for a single-threaded parent (see the module docstring), else spawn."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


@dataclass
class Child:
    job: ChildJob
    process: BaseProcess
    pipe: Connection
    result: Finished | Failed | None = None
    pipe_open: bool = True

    @property
    def done(self) -> bool:
        return not self.pipe_open and not self.process.is_alive()


@dataclass
class EditionProgress:
    total: int
    finished_before: int
    tallies: dict[int, Tally] = field(default_factory=dict)  # child -> its latest tally

    @property
    def tally(self) -> Tally:
        return add_tallies(self.tallies.values())


class ProcessGroup:
    """The parent's side: start the children, relay their progress, stop or abort them."""

    def __init__(self, target: Callable[[ChildJob, Connection], Any], jobs: Sequence[ChildJob]):
        self.target, self.jobs = target, jobs
        self.children: list[Child] = []
        self.progress: dict[str, EditionProgress] = {}
        self.stopping = False
        self.started = time.monotonic()

    def start(self) -> None:
        context = process_context()
        for job in self.jobs:
            if self.stopping:
                break  # stopped while starting: the rest are not needed
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=self.target, args=(job, sender), name=f"m5syndicate-send-{job.index + 1}"
            )
            process.start()
            sender.close()  # the child's end: EOF here when the child is gone
            self.children.append(Child(job, process, receiver))
        self.started = time.monotonic()

    def expect(self, edition: str, total: int, finished_before: int) -> None:
        self.progress[edition] = EditionProgress(total, finished_before)

    def stop(self) -> None:
        """Each child finishes its messages in flight and releases its claims (SIGTERM)."""
        self.stopping = True
        for process in self.running():
            process.terminate()

    def abort(self) -> None:
        """Kill the children: like a crash, their claims come back after the lease."""
        for process in self.running():
            process.kill()

    def running(self) -> list[BaseProcess]:
        return [child.process for child in self.children if child.process.is_alive()]

    def watch(self, on_progress: ProgressCallback | None) -> None:
        """Relay messages until every child has ended; a failing child stops the rest."""
        while not all(child.done for child in self.children):
            readable = [child.pipe for child in self.children if child.pipe_open]
            sentinels = [c.process.sentinel for c in self.children if c.process.is_alive()]
            for ready in wait([*readable, *sentinels], timeout=1.0):
                child = next((c for c in self.children if c.pipe is ready), None)
                if child is not None:
                    self.receive(child, on_progress)
        for child in self.children:
            child.process.join()

    def receive(self, child: Child, on_progress: ProgressCallback | None) -> None:
        try:
            message = child.pipe.recv()
        except (EOFError, OSError):
            child.pipe_open = False
            return
        if isinstance(message, Snapshot):
            self.count(message, on_progress)
        elif isinstance(message, Finished | Failed):
            child.result = message
            if isinstance(message, Failed) and not self.stopping:
                self.stop()

    def count(self, snapshot: Snapshot, on_progress: ProgressCallback | None) -> None:
        edition = self.progress.setdefault(snapshot.edition, EditionProgress(0, 0))
        edition.tallies[snapshot.child] = snapshot.tally
        if on_progress is not None:
            tally = edition.tally
            finished = edition.finished_before + tally.finished
            total = max(edition.total, finished)
            on_progress(Progress(snapshot.edition, total, finished, tally, self.elapsed()))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # --- what they did ----------------------------------------------------------------

    @property
    def reports(self) -> list[SendReport]:
        return [c.result.report for c in self.children if isinstance(c.result, Finished)]

    @property
    def died(self) -> list[str]:
        """Children that ended without a word (killed, or crashed hard)."""
        return [
            f"process {c.job.index + 1} (pid {c.process.pid}) ended with exit code "
            f"{c.process.exitcode}"
            for c in self.children
            if c.result is None
        ]

    def raise_failure(self) -> None:
        failures = [c.result.message for c in self.children if isinstance(c.result, Failed)]
        if failures:
            raise DeliveryError(failures[0])

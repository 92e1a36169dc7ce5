"""What a send reports: per-edition tallies, progress while it runs, the summary after."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from m5syndicate.models import Edition
from m5syndicate.store.deliveries import Outcome


@dataclass
class Tally:
    """This run's outcomes for one edition."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    unknown: int = 0  # sent in full, no reply: counted as sent ([delivery] unknown_outcome)

    def count(self, state: str) -> None:
        """One committed outcome; `pending` means it goes back for a retry."""
        if state == "sent":
            self.sent += 1
        elif state == "unknown":
            self.unknown += 1
        elif state == "failed":
            self.failed += 1
        elif state == "skipped":
            self.skipped += 1
        elif state == "pending":
            self.retried += 1

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.skipped + self.unknown


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


ProgressCallback = Callable[[Progress], None]


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


class Meter:
    """Counts the outcomes as they are committed and tells the caller how far it is."""

    def __init__(
        self, edition: str, total: int, finished_before: int, on_progress: ProgressCallback | None
    ) -> None:
        self.edition, self.total, self.finished_before = edition, total, finished_before
        self.on_progress = on_progress
        self.tally = Tally()
        self.started = time.monotonic()

    def committed(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.tally.count(outcome.state)
        if self.on_progress is not None:
            finished = self.finished_before + self.tally.finished
            self.on_progress(
                Progress(self.edition, self.total, finished, self.tally, self.elapsed())
            )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

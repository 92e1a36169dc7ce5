"""The pure parts of `send --processes N`: shares, how many processes, adding tallies."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime

import pytest

from m5syndicate.config import load_settings
from m5syndicate.delivery.pacing import Budget
from m5syndicate.delivery.processes import (
    ProcessGroup,
    ProgressRelay,
    Snapshot,
    child_jobs,
    process_context,
    split,
)
from m5syndicate.delivery.reports import Progress, Tally
from m5syndicate.delivery.send import OpenEdition, OpenedSend, SendOptions, add_tallies
from m5syndicate.models import Edition

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "parts", "shares"),
    [(16, 2, [8, 8]), (5, 2, [3, 2]), (4, 4, [1, 1, 1, 1]), (0, 3, [0, 0, 0]), (7, 3, [3, 2, 2])],
)
def test_split_keeps_the_total_and_differs_by_one_at_most(
    total: int, parts: int, shares: list[int]
) -> None:
    assert split(total, parts) == shares


def test_child_jobs_split_connections_rate_and_budget() -> None:
    base = load_settings(
        path=None, env={}, overrides={"delivery": {"concurrency": 5, "rate_per_second": 90}}
    )
    options = SendOptions(cadences=("daily",), limit=None, retry_failed=True)
    jobs = child_jobs(base, options, NOW, 2, budget=101)
    assert [job.settings.delivery.concurrency for job in jobs] == [3, 2]
    assert [job.settings.delivery.rate_per_second for job in jobs] == [45, 45]
    assert [job.options.limit for job in jobs] == [51, 50]
    # The parent opened the editions (and retried the failed rows) already.
    assert all(job.options.resume_only and not job.options.retry_failed for job in jobs)
    assert [job.index for job in jobs] == [0, 1]
    assert base.delivery.concurrency == 5  # the parent's settings are left as they were


def test_no_budget_means_no_limit_for_any_child() -> None:
    jobs = child_jobs(load_settings(path=None, env={}), SendOptions(), NOW, 3, budget=None)
    assert [job.options.limit for job in jobs] == [None, None, None]


def opened(left: int, budget: int | None = None) -> OpenedSend:
    edition = Edition(cadence="daily", period_key="2026-12-01", since=NOW, until=NOW)
    return OpenedSend([OpenEdition(edition, total=left + 7, finished=7)], Budget(budget))


@pytest.mark.parametrize(
    ("left", "wanted", "concurrency", "budget", "expected"),
    [
        (5000, 2, 4, None, 2),  # plenty of work
        (5000, 8, 4, None, 4),  # no more processes than connections
        (600, 4, 16, None, 2),  # two batches of 500 of work: two processes
        (499, 4, 16, None, 1),  # less than a batch: one
        (5000, 4, 16, 3, 3),  # --limit 3: at most three
        (0, 4, 16, None, 1),  # nothing left: one, which finds nothing
    ],
)
def test_processes_for(
    left: int, wanted: int, concurrency: int, budget: int | None, expected: int
) -> None:
    chosen = load_settings(
        path=None, env={}, overrides={"delivery": {"concurrency": concurrency, "batch_size": 500}}
    )
    assert opened(left, budget).processes_for(wanted, chosen) == expected


def test_add_tallies_adds_every_field() -> None:
    one = Tally(sent=3, failed=1, skipped=2, retried=4, unknown=1)
    two = Tally(sent=10, unknown=2)
    assert add_tallies([one, two]) == Tally(sent=13, failed=1, skipped=2, retried=4, unknown=3)
    assert add_tallies([]) == Tally()


def progress(edition: str, finished: int, total: int, sent: int) -> Progress:
    return Progress(edition, total, finished, Tally(sent=sent), elapsed=1.0)


def test_the_relay_sends_each_editions_last_tally() -> None:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    relay = ProgressRelay(sender, child=1)
    relay(progress("daily-a", 1, 100, 1))  # the first goes at once
    relay(progress("daily-a", 2, 100, 2))  # within PROGRESS_EVERY: held back
    relay(progress("daily-b", 1, 50, 1))  # a new edition: daily-a's last one goes first
    relay.flush()
    got = []
    while receiver.poll():
        got.append(receiver.recv())
    assert got == [
        Snapshot(1, "daily-a", Tally(sent=1)),
        Snapshot(1, "daily-a", Tally(sent=2)),
        Snapshot(1, "daily-b", Tally(sent=1)),
    ]


def test_the_parent_adds_up_the_latest_tally_of_each_child() -> None:
    group = ProcessGroup(print, [])
    group.expect("daily-a", total=100, finished_before=10)
    shown: list[Progress] = []
    group.count(Snapshot(0, "daily-a", Tally(sent=5)), shown.append)
    group.count(Snapshot(1, "daily-a", Tally(sent=3, failed=1)), shown.append)
    group.count(Snapshot(0, "daily-a", Tally(sent=7)), shown.append)  # child 0 moved on
    last = shown[-1]
    assert (last.total, last.finished, last.tally) == (100, 21, Tally(sent=10, failed=1))


def test_children_are_forked_only_from_a_single_threaded_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert process_context().get_start_method() == "spawn"  # a fork would copy only this thread
    finally:
        release.set()
        other.join()
    # Other tests may leave a thread of theirs behind; the rule is what is tested here.
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert process_context().get_start_method() == "fork"

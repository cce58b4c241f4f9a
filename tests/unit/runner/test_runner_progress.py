"""ProgressReporter: throttled to one write a second, but the latest update always lands."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.deploy_state import derive_status
from chalicelib.models.jobs import JobRecord
from runner.jobs.context import ProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTimer:
    def __init__(self, delay_s: float, fn: Callable[[], None]) -> None:
        self.delay_s = delay_s
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """Records what the reporter schedules; the test fires it after moving the clock."""

    def __init__(self) -> None:
        self.timers: list[FakeTimer] = []

    def __call__(self, delay_s: float, fn: Callable[[], None]) -> FakeTimer:
        self.timers.append(FakeTimer(delay_s, fn))
        return self.timers[-1]

    @property
    def live(self) -> list[FakeTimer]:
        return [t for t in self.timers if not t.cancelled]

    def fire(self) -> None:
        (timer,) = self.live
        timer.cancelled = True  # a timer runs once
        timer.fn()


Writes = list[tuple[int, "str | None"]]


def _reporter(**kwargs: Any) -> tuple[ProgressReporter, Writes, FakeClock, FakeScheduler]:
    writes: Writes = []
    clock, scheduler = FakeClock(), FakeScheduler()
    reporter = ProgressReporter(
        lambda p, m: writes.append((p, m)), clock=clock, schedule=scheduler, **kwargs
    )
    return reporter, writes, clock, scheduler


def test_an_update_within_the_second_is_written_when_the_second_is_up() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(50, "plan: 3 to add")
    clock.now = 0.2
    progress(60, "applying (auto-approve)")  # the handler then runs for minutes
    assert writes == [(50, "plan: 3 to add")]
    assert [t.delay_s for t in scheduler.live] == [pytest.approx(0.8)]

    clock.now = 1.0
    scheduler.fire()

    assert writes == [(50, "plan: 3 to add"), (60, "applying (auto-approve)")]
    assert progress.pending is None and scheduler.live == []


def test_a_newer_update_replaces_the_waiting_one_under_one_timer() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(10, "a")
    clock.now = 0.2
    progress(20, "b")
    clock.now = 0.5
    progress(30, "c")
    assert len(scheduler.timers) == 1 and progress.pending == (30, "c")

    clock.now = 1.0
    scheduler.fire()

    assert writes == [(10, "a"), (30, "c")]


def test_a_due_update_supersedes_the_waiting_one_and_its_timer() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(10, "a")
    clock.now = 0.5
    progress(20, "b")
    clock.now = 1.5
    progress(30, "c")  # due: written now, "b" is history
    assert writes == [(10, "a"), (30, "c")]
    assert scheduler.live == [] and progress.pending is None


def test_completion_is_written_at_once_and_repeats_are_not() -> None:
    progress, writes, clock, _ = _reporter()
    progress(10, "a")
    clock.now = 0.1
    progress(100, "done")
    progress(150, "done")  # clamped to 100: a repeat
    assert writes == [(10, "a"), (100, "done")]


def test_going_back_to_what_the_item_shows_drops_the_waiting_update() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(10, "a")
    clock.now = 0.3
    progress(20, "b")
    progress(10, "a")  # the item already shows this
    clock.now = 1.0
    if scheduler.live:
        scheduler.fire()
    progress.close()
    assert writes == [(10, "a")]


def test_a_timer_that_fires_early_waits_again_for_the_full_second() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(10, "a")
    clock.now = 0.5
    progress(20, "b")
    clock.now = 0.9  # e.g. the timer thread woke up early
    scheduler.fire()
    assert writes == [(10, "a")]
    assert [t.delay_s for t in scheduler.live] == [pytest.approx(0.1)]
    clock.now = 1.0
    scheduler.fire()
    assert writes == [(10, "a"), (20, "b")]


def test_close_writes_the_waiting_update_then_accepts_no_more() -> None:
    progress, writes, clock, scheduler = _reporter()
    progress(40, "applying the saved plan")
    clock.now = 0.1
    progress(90, "writing outputs")
    timer = scheduler.live[0]

    progress.close()

    assert writes == [(40, "applying the saved plan"), (90, "writing outputs")]
    assert timer.cancelled
    clock.now = 5.0
    progress(95, "late")
    timer.fn()  # a timer that was already running when it was cancelled
    assert writes == [(40, "applying the saved plan"), (90, "writing outputs")]


def test_a_failed_trailing_write_is_kept_and_close_retries_it() -> None:
    clock, scheduler = FakeClock(), FakeScheduler()
    writes: Writes = []
    failures = [RuntimeError("throttled")]

    def write(percent: int, message: str | None) -> None:
        if writes and failures:
            raise failures.pop()
        writes.append((percent, message))

    progress = ProgressReporter(write, clock=clock, schedule=scheduler)
    progress(10, "a")
    clock.now = 0.5
    progress(20, "b")
    clock.now = 1.0
    scheduler.fire()  # the write fails: logged, not raised in the timer thread
    assert writes == [(10, "a")] and progress.pending == (20, "b")

    progress.close()
    assert writes == [(10, "a"), (20, "b")]


def test_close_never_raises() -> None:
    clock, scheduler = FakeClock(), FakeScheduler()
    calls: list[int] = []

    def write(percent: int, _message: str | None) -> None:
        calls.append(percent)
        if len(calls) > 1:
            raise RuntimeError("lease lost")

    progress = ProgressReporter(write, clock=clock, schedule=scheduler)
    progress(10, "a")
    clock.now = 0.5
    progress(20, "b")
    progress.close()  # the write fails; the job's outcome is decided elsewhere
    assert calls == [10, 20]


def test_the_auto_approve_apply_shows_as_applying_from_the_phase_not_the_message() -> None:
    """The API derives ``applying`` from the job's explicit ``phase`` (written at once by
    the Terraform job), never from the (throttled) progress message."""

    def state(**item: Any) -> str:
        job = JobRecord.model_validate(
            {"job_id": "j", "project_id": "p", "kind": "plan", "status": "running", **item}
        )
        return derive_status({"created_at_epoch": 0}, job, None, 1.0).status

    assert state(progress_message="applying (auto-approve)") == "planning"  # text means nothing
    assert state(phase="planning", progress_message="applying (auto-approve)") == "planning"
    assert state(phase="applying", progress_message="plan: 1 to add") == "applying"
    assert state(phase="applied", progress=100) == "applying"  # until the worker writes the outcome


def test_the_default_timer_delivers_the_trailing_update() -> None:
    delivered = threading.Event()
    writes: Writes = []

    def write(percent: int, message: str | None) -> None:
        writes.append((percent, message))
        if len(writes) == 2:
            delivered.set()

    progress = ProgressReporter(write, min_interval_s=0.05)
    progress(10, "a")
    progress(20, "b")
    assert delivered.wait(5)
    assert writes == [(10, "a"), (20, "b")]
    progress.close()

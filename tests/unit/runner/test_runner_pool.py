"""runner.pool: slots by kind, waiting for a slot, idle time (threads, no I/O)."""

from __future__ import annotations

import threading

import pytest

from runner.pool import JobPool, slot_kind


def test_terraform_kinds_share_the_terraform_slots() -> None:
    assert {slot_kind(k) for k in ("plan", "apply", "destroy")} == {"terraform"}
    assert {slot_kind(k) for k in ("analyze", "snapshot")} == {"general"}


def test_each_kind_is_bounded_on_its_own() -> None:
    pool = JobPool({"terraform": 2, "general": 1})
    release = threading.Event()
    assert pool.try_start("terraform", "t1", release.wait)
    assert pool.try_start("terraform", "t2", release.wait)
    assert not pool.try_start("terraform", "t3", release.wait)  # full
    assert pool.try_start("general", "g1", release.wait)  # beside them
    assert not pool.any_free() and pool.busy() == 3
    assert not pool.wait_for_free(0.05)
    release.set()
    assert pool.wait_idle(5)
    assert pool.free("terraform") == 2 and pool.free("general") == 1 and pool.started == 3


def test_a_failing_job_frees_its_slot_and_idle_time_counts_from_the_last_end() -> None:
    now = [100.0]
    pool = JobPool({"terraform": 1, "general": 1}, monotonic=lambda: now[0])
    assert pool.idle_for() == 0.0
    now[0] = 110.0
    assert pool.idle_for() == 10.0
    gate = threading.Event()

    def boom() -> None:
        gate.wait()
        raise RuntimeError("handler bug")

    assert pool.try_start("general", "g", boom)
    assert pool.idle_for() == 0.0  # a job runs
    now[0] = 120.0
    gate.set()
    assert pool.wait_idle(5)
    now[0] = 125.0
    assert pool.idle_for() == 5.0
    assert pool.wait_for_kind("general", 0.01)


def test_every_kind_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        JobPool({"terraform": 0, "general": 1})

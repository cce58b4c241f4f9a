"""The DynamoDB semaphore (at most N Terraform jobs across all runners), on the emulator."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from devtools.local_resources import REGION, LocalResources
from runner.semaphore import SlotLease, SlotLostError, TerraformSemaphore


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def dynamodb(resources: LocalResources) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=resources.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def semaphore(resources: LocalResources, runner_id: str, **kwargs: Any) -> TerraformSemaphore:
    return TerraformSemaphore(dynamodb(resources), resources.table, runner_id, **kwargs)


def test_five_contenders_never_exceed_two_holders(local_resources: LocalResources) -> None:
    lock = threading.Lock()
    holding: set[str] = set()
    most = 0
    finished: list[str] = []
    places: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(5)
    # A holder keeps its slot until the other slot is taken too and someone was refused (or
    # nobody is left): the limit is reached for certain, not by the luck of a hold time.
    changed = threading.Condition(lock)
    acquired = 0

    def contender(index: int) -> None:
        nonlocal most, acquired
        job_id = f"job{index}"
        # Runners on different hosts: one semaphore (and client) per thread.
        sem = semaphore(local_resources, f"runner{index % 2}", lease_s=30)
        try:
            start.wait()
            deadline = time.monotonic() + 30
            while True:
                outcome = sem.try_acquire(job_id)
                if outcome.lease is not None:
                    break
                assert outcome.place is not None
                with changed:
                    places.append(outcome.place.position)
                    changed.notify_all()
                assert time.monotonic() < deadline, "never got a slot"
                time.sleep(0.05)
            with lock:
                holding.add(job_id)
                acquired += 1
                most = max(most, len(holding))
                changed.notify_all()
            assert len(sem.holders()) <= 2  # the table agrees
            with changed:
                assert changed.wait_for(
                    lambda: (len(holding) == 2 and bool(places)) or acquired == 5, timeout=30
                )
                holding.discard(job_id)
            assert sem.release(outcome.lease)
            with lock:
                finished.append(job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(finished) == [f"job{i}" for i in range(5)]
    assert most == 2  # the limit was reached, never passed
    assert places and min(places) >= 1 and max(places) <= 5
    assert semaphore(local_resources, "observer").holders() == []


def test_an_expired_lease_is_reclaimed_and_its_old_holder_learns_it(
    local_resources: LocalResources,
) -> None:
    clock = FakeClock()
    dead = semaphore(local_resources, "dead-runner", lease_s=60, clock=clock)
    alive = semaphore(local_resources, "live-runner", lease_s=60, clock=clock)
    first = dead.try_acquire("job-a").lease
    second = dead.try_acquire("job-b").lease
    assert first is not None and second is not None
    waiting = alive.try_acquire("job-c")
    assert waiting.lease is None and waiting.place is not None
    assert (waiting.place.position, waiting.place.holders) == (1, 2)

    clock.now += 30
    assert alive.try_acquire("job-c").lease is None  # the leases still run
    second = dead.renew(second)  # job-b's runner is alive: it renews
    clock.now += 31  # job-a's lease expired (its runner died)
    taken = alive.try_acquire("job-c").lease
    assert taken is not None and taken.slot == first.slot
    assert alive.place("job-c") is None  # no longer waiting
    with pytest.raises(SlotLostError):
        dead.renew(first)
    assert not dead.release(first)  # cannot free a slot it lost
    assert {h.job_id for h in alive.holders()} == {"job-b", "job-c"}


def test_release_by_a_non_holder_is_refused(local_resources: LocalResources) -> None:
    sem = semaphore(local_resources, "r1")
    lease = sem.try_acquire("job-a").lease
    assert lease is not None
    assert not sem.release(SlotLease(lease.slot, "job-x", "r1", lease.lease_until))
    assert not semaphore(local_resources, "r2").release(
        SlotLease(lease.slot, "job-a", "r2", lease.lease_until)
    )
    assert [h.job_id for h in sem.holders()] == ["job-a"]
    assert sem.release(lease)
    assert sem.holders() == []


def test_a_retry_of_the_holding_job_keeps_its_slot(local_resources: LocalResources) -> None:
    sem = semaphore(local_resources, "r1", slots=1)
    lease = sem.try_acquire("job-a").lease
    again = sem.try_acquire("job-a").lease
    assert lease is not None and again is not None and again.slot == lease.slot
    assert len(sem.holders()) == 1


def test_jobs_start_in_the_order_they_first_asked(local_resources: LocalResources) -> None:
    clock = FakeClock()
    sem = semaphore(local_resources, "r1", slots=2, waiter_ttl_s=60, clock=clock)
    a = sem.try_acquire("job-a").lease
    assert a is not None and sem.try_acquire("job-b").lease is not None
    clock.now += 1
    assert sem.try_acquire("job-c").place.position == 1  # type: ignore[union-attr]
    clock.now += 1
    assert sem.try_acquire("job-d").place.position == 2  # type: ignore[union-attr]
    sem.release(a)
    clock.now += 1
    # One free slot and job-c is ahead: job-d must keep waiting, with its place.
    late = sem.try_acquire("job-d")
    assert late.lease is None and late.place is not None and late.place.position == 2
    assert sem.try_acquire("job-c").lease is not None
    assert sem.place("job-d").position == 1  # type: ignore[union-attr]


def test_a_waiter_that_stopped_asking_does_not_block_the_line(
    local_resources: LocalResources,
) -> None:
    clock = FakeClock()
    sem = semaphore(local_resources, "r1", slots=1, waiter_ttl_s=60, clock=clock)
    a = sem.try_acquire("job-a").lease
    assert a is not None
    assert sem.try_acquire("job-gone").lease is None  # waits, then its job was cancelled
    sem.release(a)
    clock.now += 61
    assert sem.try_acquire("job-new").lease is not None

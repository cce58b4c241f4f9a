"""At most N Terraform jobs at once across all runners: a semaphore in DynamoDB.

Items: slots and waiters, written through ``chalicelib.store.semaphore`` (the one
writer library; the API reads the same line for its place-in-line answer). A dead
runner's slot is reclaimed once its lease runs out; a live holder renews it with its
heartbeat.

Place in line (the simple approach): a job that finds no slot it may take
registers as a waiter and retries later (the worker re-queues its message with
a delay). Waiters are ordered by ``since`` (then job id); a waiter that stopped
retrying (``seen_until`` passed) no longer counts. A job may take a free slot only
if fewer waiters are ahead of it than there are free slots, so jobs start in
the order they first asked. ``QueuePlace.position`` (1 = next) is what the API
shows. Fairness is best effort; the limit itself is enforced by the conditional
writes alone, whatever the clocks or the waiters say.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.keys import SEMAPHORE_PK, SLOT_PREFIX, WAIT_PREFIX
from chalicelib.store.semaphore import (
    DynamoSemaphoreStore,
    Line,
    QueuePlace,
    SemaphoreStore,
    SlotLease,
)

__all__ = [
    "SEMAPHORE_PK",
    "SLOT_PREFIX",
    "WAIT_PREFIX",
    "AcquireResult",
    "QueuePlace",
    "SemaphoreError",
    "SlotLease",
    "SlotLostError",
    "TerraformSemaphore",
]


class SemaphoreError(Exception):
    """Base of the semaphore's errors."""


class SlotLostError(SemaphoreError):
    """The slot is no longer held by this job on this runner (its lease expired and was taken)."""


@dataclass(frozen=True)
class AcquireResult:
    lease: SlotLease | None = None  # set when a slot was taken
    place: QueuePlace | None = None  # set when the job has to wait


class TerraformSemaphore:
    def __init__(
        self,
        dynamodb: Any,  # a boto3 DynamoDB client (unused when ``store`` is given)
        table: str,
        runner_id: str,
        slots: int = 2,
        lease_s: float = 120.0,
        waiter_ttl_s: float = 120.0,
        clock: Callable[[], float] = time.time,
        store: SemaphoreStore | None = None,
    ) -> None:
        if slots < 1:
            raise ValueError("slots: must be at least 1")
        if lease_s <= 0 or waiter_ttl_s <= 0:
            raise ValueError("lease_s and waiter_ttl_s: must be positive")
        self._store = store if store is not None else DynamoSemaphoreStore(dynamodb, table)
        self.runner_id = runner_id
        self.slots = slots
        self.lease_s = lease_s
        self.waiter_ttl_s = waiter_ttl_s
        self._clock = clock

    # -- acquire / renew / release -------------------------------------------------

    def try_acquire(self, job_id: str, resource: str | None = None) -> AcquireResult:
        """Take a slot for ``job_id`` now, or register it as waiting and say where it stands.

        ``resource`` names what the job works on (a deployment's state key), so that
        others can tell whether a live job is working on it (``holders_of``)."""
        now = self._clock()
        line = self._store.line(now, self.slots)
        mine = next((h for h in line.holders if h.job_id == job_id), None)
        if mine is not None and mine.runner_id == self.runner_id:
            # A retry of a job that already holds its slot (e.g. a redelivered message).
            lease = self._put_slot(mine.slot, job_id, now, resource)
            if lease is not None:
                self._store.leave(job_id)
                return AcquireResult(lease=lease)
        free = [n for n in range(self.slots) if n not in {h.slot for h in line.holders}]
        if free and line.ahead_of(job_id) < len(free):
            for slot in free:
                lease = self._put_slot(slot, job_id, now, resource)
                if lease is not None:
                    self._store.leave(job_id)
                    return AcquireResult(lease=lease)
        return AcquireResult(place=self._wait(job_id, now))

    def renew(self, lease: SlotLease) -> SlotLease:
        """Extend the lease (call it with the job's heartbeat); raise ``SlotLostError`` if gone."""
        lease_until = self._clock() + self.lease_s
        if not self._store.renew_slot(lease, lease_until):
            raise SlotLostError(f"slot {lease.slot} is no longer held by job {lease.job_id}")
        return SlotLease(lease.slot, lease.job_id, lease.runner_id, lease_until, lease.resource)

    def release(self, lease: SlotLease) -> bool:
        """Free the slot if this job on this runner still holds it; False if it did not."""
        return self._store.free_slot(lease)

    def leave_queue(self, job_id: str) -> None:
        """Forget a waiting job (cancelled or failed before it got a slot)."""
        self._store.leave(job_id)

    # -- reading -------------------------------------------------------------------

    def holders(self) -> list[SlotLease]:
        return self._store.line(self._clock(), self.slots).holders

    def holders_of(self, resource: str) -> list[SlotLease]:
        """Live holders working on ``resource``: none means no Terraform of ours touches it."""
        return [lease for lease in self.holders() if lease.resource == resource]

    def place(self, job_id: str) -> QueuePlace | None:
        """Where a waiting job stands now (None if it is not waiting)."""
        line = self._store.line(self._clock(), self.slots)
        if job_id not in line.waiters:
            return None
        return QueuePlace(line.waiters.index(job_id) + 1, len(line.waiters), len(line.holders))

    def _read(self, now: float) -> tuple[list[SlotLease], list[str]]:
        line: Line = self._store.line(now, self.slots)
        return line.holders, line.waiters

    # -- writes --------------------------------------------------------------------

    def _put_slot(
        self, slot: int, job_id: str, now: float, resource: str | None
    ) -> SlotLease | None:
        lease_until = now + self.lease_s
        if not self._store.take_slot(slot, job_id, self.runner_id, now, lease_until, resource):
            return None
        return SlotLease(slot, job_id, self.runner_id, lease_until, resource)

    def _wait(self, job_id: str, now: float) -> QueuePlace:
        """Register (or refresh) the job as waiting, keeping its first ``since``."""
        self._store.wait(job_id, self.runner_id, now, now + self.waiter_ttl_s)
        holders, waiters = self._read(now)
        position = waiters.index(job_id) + 1 if job_id in waiters else len(waiters) + 1
        return QueuePlace(
            position=position, waiting=max(len(waiters), position), holders=len(holders)
        )

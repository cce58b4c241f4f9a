"""At most N Terraform jobs at once across all runners: a semaphore in DynamoDB.

Items (one partition, so one consistent query reads the whole semaphore):

- slot  ``pk = SEMAPHORE#terraform``, ``sk = SLOT#<n>`` (n = 0..N-1): ``job_id``,
  ``runner_id``, ``lease_until`` (epoch s), ``acquired_at`` and ``resource`` (the
  deployment's state key, so that a stale state lock can be told from a live one).
  Taken with a conditional put that succeeds only if the slot is free, its lease
  expired, or this very job on this very runner already holds it. So a dead
  runner's slot is reclaimed once its lease runs out; a live holder renews it
  with its heartbeat.
- waiter ``sk = WAIT#<job_id>``: ``since`` (first attempt, kept), ``seen_until``
  (refreshed on every attempt) and the ``expires_at`` TTL.

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

SEMAPHORE_PK = "SEMAPHORE#terraform"
SLOT_PREFIX = "SLOT#"
WAIT_PREFIX = "WAIT#"
_WAITER_TTL_DAYS = 1  # DynamoDB's TTL removes forgotten waiter items eventually


class SemaphoreError(Exception):
    """Base of the semaphore's errors."""


class SlotLostError(SemaphoreError):
    """The slot is no longer held by this job on this runner (its lease expired and was taken)."""


@dataclass(frozen=True)
class SlotLease:
    slot: int
    job_id: str
    runner_id: str
    lease_until: float
    resource: str | None = None  # what the job works on (a state key): see ``holders_of``


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1-based place among the waiting jobs (1 = next to start)
    waiting: int  # all live waiters, this job included
    holders: int  # slots in use


@dataclass(frozen=True)
class AcquireResult:
    lease: SlotLease | None = None  # set when a slot was taken
    place: QueuePlace | None = None  # set when the job has to wait


class TerraformSemaphore:
    def __init__(
        self,
        dynamodb: Any,  # a boto3 DynamoDB client
        table: str,
        runner_id: str,
        slots: int = 2,
        lease_s: float = 120.0,
        waiter_ttl_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if slots < 1:
            raise ValueError("slots: must be at least 1")
        if lease_s <= 0 or waiter_ttl_s <= 0:
            raise ValueError("lease_s and waiter_ttl_s: must be positive")
        self._ddb = dynamodb
        self._table = table
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
        holders, waiters = self._read(now)
        mine = next((h for h in holders if h.job_id == job_id), None)
        if mine is not None and mine.runner_id == self.runner_id:
            # A retry of a job that already holds its slot (e.g. a redelivered message).
            lease = self._put_slot(mine.slot, job_id, now, resource)
            if lease is not None:
                self._delete_waiter(job_id)
                return AcquireResult(lease=lease)
        free = [n for n in range(self.slots) if n not in {h.slot for h in holders}]
        if free and _position(waiters, job_id) < len(free):
            for slot in free:
                lease = self._put_slot(slot, job_id, now, resource)
                if lease is not None:
                    self._delete_waiter(job_id)
                    return AcquireResult(lease=lease)
        return AcquireResult(place=self._wait(job_id, now))

    def renew(self, lease: SlotLease) -> SlotLease:
        """Extend the lease (call it with the job's heartbeat); raise ``SlotLostError`` if gone."""
        now = self._clock()
        lease_until = now + self.lease_s
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_slot_key(lease.slot),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="job_id = :job AND runner_id = :runner",
                ExpressionAttributeValues={
                    ":until": _num(lease_until),
                    ":job": {"S": lease.job_id},
                    ":runner": {"S": lease.runner_id},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise SlotLostError(
                f"slot {lease.slot} is no longer held by job {lease.job_id}"
            ) from None
        return SlotLease(lease.slot, lease.job_id, lease.runner_id, lease_until, lease.resource)

    def release(self, lease: SlotLease) -> bool:
        """Free the slot if this job on this runner still holds it; False if it did not."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=_slot_key(lease.slot),
                ConditionExpression="job_id = :job AND runner_id = :runner",
                ExpressionAttributeValues={
                    ":job": {"S": lease.job_id},
                    ":runner": {"S": lease.runner_id},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def leave_queue(self, job_id: str) -> None:
        """Forget a waiting job (cancelled or failed before it got a slot)."""
        self._delete_waiter(job_id)

    # -- reading -------------------------------------------------------------------

    def holders(self) -> list[SlotLease]:
        return self._read(self._clock())[0]

    def holders_of(self, resource: str) -> list[SlotLease]:
        """Live holders working on ``resource``: none means no Terraform of ours touches it."""
        return [lease for lease in self.holders() if lease.resource == resource]

    def place(self, job_id: str) -> QueuePlace | None:
        """Where a waiting job stands now (None if it is not waiting)."""
        holders, waiters = self._read(self._clock())
        if job_id not in waiters:
            return None
        return QueuePlace(waiters.index(job_id) + 1, len(waiters), len(holders))

    def _read(self, now: float) -> tuple[list[SlotLease], list[str]]:
        """Live holders, and live waiters' job ids in line order."""
        holders: list[SlotLease] = []
        waiting: list[tuple[float, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": SEMAPHORE_PK}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                if sk.startswith(SLOT_PREFIX):
                    lease_until = float(item["lease_until"]["N"])
                    slot = int(sk[len(SLOT_PREFIX) :])
                    if lease_until >= now and slot < self.slots:
                        resource = item.get("resource", {}).get("S")
                        holders.append(
                            SlotLease(
                                slot,
                                item["job_id"]["S"],
                                item["runner_id"]["S"],
                                lease_until,
                                resource,
                            )
                        )
                elif sk.startswith(WAIT_PREFIX) and float(item["seen_until"]["N"]) >= now:
                    waiting.append((float(item["since"]["N"]), item["job_id"]["S"]))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return holders, [job_id for _, job_id in sorted(waiting)]

    # -- writes --------------------------------------------------------------------

    def _put_slot(
        self, slot: int, job_id: str, now: float, resource: str | None
    ) -> SlotLease | None:
        lease_until = now + self.lease_s
        item = {
            **_slot_key(slot),
            "job_id": {"S": job_id},
            "runner_id": {"S": self.runner_id},
            "lease_until": _num(lease_until),
            "acquired_at": _num(now),
        }
        if resource:
            item["resource"] = {"S": resource}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR lease_until < :now"
                    " OR (job_id = :job AND runner_id = :runner)"
                ),
                ExpressionAttributeValues={
                    ":now": _num(now),
                    ":job": {"S": job_id},
                    ":runner": {"S": self.runner_id},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return SlotLease(slot, job_id, self.runner_id, lease_until, resource)

    def _wait(self, job_id: str, now: float) -> QueuePlace:
        """Register (or refresh) the job as waiting, keeping its first ``since``."""
        seen_until = now + self.waiter_ttl_s
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": SEMAPHORE_PK}, "sk": {"S": WAIT_PREFIX + job_id}},
            UpdateExpression=(
                "SET job_id = :job, since = if_not_exists(since, :now),"
                " seen_until = :seen, runner_id = :runner, expires_at = :expires"
            ),
            ExpressionAttributeValues={
                ":job": {"S": job_id},
                ":now": _num(now),
                ":seen": _num(seen_until),
                ":runner": {"S": self.runner_id},
                ":expires": {"N": str(int(seen_until) + _WAITER_TTL_DAYS * 86400)},
            },
        )
        holders, waiters = self._read(now)
        position = waiters.index(job_id) + 1 if job_id in waiters else len(waiters) + 1
        return QueuePlace(
            position=position, waiting=max(len(waiters), position), holders=len(holders)
        )

    def _delete_waiter(self, job_id: str) -> None:
        self._ddb.delete_item(
            TableName=self._table,
            Key={"pk": {"S": SEMAPHORE_PK}, "sk": {"S": WAIT_PREFIX + job_id}},
        )


def _position(waiters: list[str], job_id: str) -> int:
    """How many waiters are ahead of ``job_id`` (all of them if it is not waiting yet)."""
    return waiters.index(job_id) if job_id in waiters else len(waiters)


def _slot_key(slot: int) -> dict[str, Any]:
    return {"pk": {"S": SEMAPHORE_PK}, "sk": {"S": f"{SLOT_PREFIX}{slot}"}}


def _num(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 6))}

"""The Terraform semaphore's items (``SEMAPHORE#terraform``): slots and waiters.

One partition, so one consistent query reads the whole semaphore:

- slot ``SLOT#<n>`` (n = 0..N-1): ``job_id``, ``runner_id``, ``lease_until`` (epoch s),
  ``acquired_at`` and ``resource`` (the stack's state key, so that a stale state lock
  can be told from a live one). Taken with a conditional put that succeeds only if the
  slot is free, its lease expired, or this very job on this very runner holds it.
- waiter ``WAIT#<job_id>``: ``since`` (first attempt, kept), ``seen_until`` (refreshed on
  every attempt) and the ``expires_at`` TTL.

The runner's algorithm (``runner.semaphore.TerraformSemaphore``) and the API's place in
line (``line_place``) read the same ``Line``.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import keys
from chalicelib.store.expressions import Condition, Update, attr, item_absent
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems

WAITER_TTL_DAYS = 1  # DynamoDB's TTL removes forgotten waiter items eventually


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
class Line:
    """Live holders, and live waiters' job ids in line order (``since``, then job id)."""

    holders: list[SlotLease]
    waiters: list[str]

    def ahead_of(self, job_id: str) -> int:
        """How many waiters are ahead of ``job_id`` (all of them if it is not waiting yet)."""
        return self.waiters.index(job_id) if job_id in self.waiters else len(self.waiters)


def line_place(line: Line, job_id: str, slots: int) -> QueuePlace:
    """Where ``job_id`` stands: its place among the waiters, or, when no runner has seen it
    yet, behind the known waiters (next, with a free slot nobody waits for)."""
    if job_id in line.waiters:
        return QueuePlace(line.waiters.index(job_id) + 1, len(line.waiters), len(line.holders))
    free = slots - len(line.holders)
    position = len(line.waiters) + 1 if free <= len(line.waiters) else 1
    return QueuePlace(position, max(len(line.waiters), position), len(line.holders))


# --------------------------------------------------------------------------- named clauses


def held_by(job_id: str, runner_id: str) -> Condition:
    return attr("job_id").eq(job_id) & attr("runner_id").eq(runner_id)


def slot_takeable(job_id: str, runner_id: str, now: float) -> Condition:
    """Free, or its lease ran out, or already this job's on this runner."""
    return item_absent() | attr("lease_until").lt(now) | held_by(job_id, runner_id)


# --------------------------------------------------------------------------- the store


class SemaphoreStore(ItemStore):
    def line(self, now: float, slots: int) -> Line:
        holders: list[SlotLease] = []
        waiting: list[tuple[float, str]] = []
        for item in self._query(keys.SEMAPHORE_PK, consistent=True):
            sk = item["sk"]
            if sk.startswith(keys.SLOT_PREFIX):
                slot = int(sk[len(keys.SLOT_PREFIX) :])
                lease_until = float(item["lease_until"])
                if lease_until >= now and slot < slots:
                    holders.append(
                        SlotLease(
                            slot,
                            item["job_id"],
                            item["runner_id"],
                            lease_until,
                            item.get("resource"),
                        )
                    )
            elif sk.startswith(keys.WAIT_PREFIX) and float(item["seen_until"]) >= now:
                waiting.append((float(item["since"]), item["job_id"]))
        return Line(holders, [job_id for _, job_id in sorted(waiting)])

    def take_slot(
        self,
        slot: int,
        job_id: str,
        runner_id: str,
        now: float,
        lease_until: float,
        resource: str | None,
    ) -> bool:
        item = {
            "pk": keys.SEMAPHORE_PK,
            "sk": keys.slot_sk(slot),
            "job_id": job_id,
            "runner_id": runner_id,
            "lease_until": round(lease_until, 6),
            "acquired_at": round(now, 6),
        }
        if resource:
            item["resource"] = resource
        return self._put(item, slot_takeable(job_id, runner_id, now))

    def renew_slot(self, lease: SlotLease, lease_until: float) -> bool:
        update = Update().set("lease_until", round(lease_until, 6))
        condition = held_by(lease.job_id, lease.runner_id)
        found = self._update(keys.SEMAPHORE_PK, keys.slot_sk(lease.slot), update, condition)
        return found is not None

    def free_slot(self, lease: SlotLease) -> bool:
        condition = held_by(lease.job_id, lease.runner_id)
        return self._delete(keys.SEMAPHORE_PK, keys.slot_sk(lease.slot), condition)

    def wait(self, job_id: str, runner_id: str, now: float, seen_until: float) -> None:
        """Register (or refresh) the job as waiting, keeping its first ``since``."""
        update = (
            Update()
            .set_all(
                {
                    "job_id": job_id,
                    "seen_until": round(seen_until, 6),
                    "runner_id": runner_id,
                    "expires_at": int(seen_until) + WAITER_TTL_DAYS * 86400,
                }
            )
            .set_default("since", round(now, 6))
        )
        self._update(keys.SEMAPHORE_PK, keys.wait_sk(job_id), update)

    def leave(self, job_id: str) -> None:
        """Forget a waiting job (cancelled or failed before it got a slot)."""
        self._delete(keys.SEMAPHORE_PK, keys.wait_sk(job_id))


class DynamoSemaphoreStore(DynamoItems, SemaphoreStore):
    pass


class MemorySemaphoreStore(MemoryItems, SemaphoreStore):
    pass

"""Windowed counters (rate windows, login and signup attempts; keys from ``chalicelib.keys``).

A hit is one conditional write (``count`` under the limit), so a burst of parallel
requests can never pass it. Window items carry ``expires_at`` (TTL) and are also
ignored in code once past: DynamoDB (and the emulator) may keep expired items for days.
"""

from __future__ import annotations

from chalicelib.store.expressions import Update, attr, below
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems

COUNT = "count"


class CounterStore(ItemStore):
    def hit(self, pk: str, sk: str, limit: int, expires_at: int) -> int | None:
        """Atomically add 1 unless the count is already ``limit``; the new count or None."""
        update = Update().add(COUNT, 1).set("expires_at", expires_at)
        new = self._update(pk, sk, update, below(COUNT, limit))
        return int(new[COUNT]) if new is not None else None

    def release(self, pk: str, sk: str) -> None:
        """Take 1 back (never below zero; already zero or gone: nothing to give back)."""
        self._update(pk, sk, Update().add(COUNT, -1), attr(COUNT).gt(0))

    def get(self, pk: str, sk: str, now: int) -> int:
        """The count, 0 when missing or expired."""
        values = self._get(pk, sk)
        if not values or int(values.get("expires_at", now + 1)) <= now:
            return 0
        return int(values.get(COUNT, 0))


class DynamoCounterStore(DynamoItems, CounterStore):
    pass


class MemoryCounterStore(MemoryItems, CounterStore):
    pass

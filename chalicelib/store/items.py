"""The few private operations every store is built on, and their two backends.

The shape of Powertools' persistence layers: a family's store (``JobStore``,
``DeploymentStore``, ...) holds the logic and calls ``_get``/``_put``/``_update``/
``_delete``/``_query``/``_transact``; ``DynamoItems`` implements them with the
low-level DynamoDB client, ``MemoryItems`` with a dict (the fake: same conditions,
evaluated in memory, one lock for atomicity). ``DynamoJobStore = (DynamoItems,
JobStore)``, ``MemoryJobStore = (MemoryItems, JobStore)`` and so on.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import THROTTLED_REASONS
from chalicelib.store.codec import from_item, key, to_item
from chalicelib.store.expressions import Condition, Placeholders, Update

TRANSACTION_ATTEMPTS = 6
CONDITION_FAILED = "ConditionalCheckFailed"


class StoreConditionError(Exception):
    """A transaction was refused; ``codes`` says which operation's condition failed."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(f"transaction cancelled: {codes}")
        self.codes = codes

    def failed(self, index: int) -> bool:
        return len(self.codes) > index and self.codes[index] == CONDITION_FAILED


# --------------------------------------------------------------------------- transaction ops


@dataclass(frozen=True)
class Put:
    item: dict[str, Any]
    condition: Condition | None = None


@dataclass(frozen=True)
class Change:
    pk: str
    sk: str
    update: Update
    condition: Condition | None = None


@dataclass(frozen=True)
class Check:
    pk: str
    sk: str
    condition: Condition


@dataclass(frozen=True)
class Remove:
    pk: str
    sk: str
    condition: Condition | None = None


Operation = Put | Change | Check | Remove


class ItemStore:
    """The private operations a family's store uses (both backends implement them)."""

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The item's values (consistent read), or None."""
        raise NotImplementedError

    def _put(self, item: dict[str, Any], condition: Condition | None = None) -> bool:
        """Write the item; False when ``condition`` failed (nothing written)."""
        raise NotImplementedError

    def _update(
        self, pk: str, sk: str, update: Update, condition: Condition | None = None
    ) -> dict[str, Any] | None:
        """Apply ``update`` (the item is created when missing): the new values, or None
        when ``condition`` failed."""
        raise NotImplementedError

    def _delete(self, pk: str, sk: str, condition: Condition | None = None) -> bool:
        raise NotImplementedError

    def _query(
        self, pk: str, sk_prefix: str | None = None, *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        """Every item of the partition (whose sort key starts with ``sk_prefix``), in sk order."""
        raise NotImplementedError

    def _transact(self, operations: list[Operation]) -> None:
        """All or nothing; raises ``StoreConditionError`` naming the failed conditions."""
        raise NotImplementedError


# --------------------------------------------------------------------------- DynamoDB


class DynamoItems(ItemStore):
    """The operations over the low-level DynamoDB client (cheaper than the resource API)."""

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.dynamodb = client
        self.table = table
        self._sleep = sleep

    def _with(
        self, request: dict[str, Any], condition: Condition | None, update: Update | None = None
    ) -> dict[str, Any]:
        ph = Placeholders()
        if update is not None:
            request["UpdateExpression"] = update.render(ph)
        if condition is not None:
            request["ConditionExpression"] = condition.render(ph)
        request.update(ph.request())
        return request

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self.table, Key=key(pk, sk), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _put(self, item: dict[str, Any], condition: Condition | None = None) -> bool:
        request = self._with({"TableName": self.table, "Item": to_item(item)}, condition)
        try:
            self.dynamodb.put_item(**request)
        except Exception as exc:
            return _condition_failed(exc)
        return True

    def _update(
        self, pk: str, sk: str, update: Update, condition: Condition | None = None
    ) -> dict[str, Any] | None:
        request = self._with(
            {"TableName": self.table, "Key": key(pk, sk), "ReturnValues": "ALL_NEW"},
            condition,
            update,
        )
        try:
            response = self.dynamodb.update_item(**request)
        except Exception as exc:
            _condition_failed(exc)  # raises anything but a failed condition
            return None
        return from_item(response.get("Attributes", {}))

    def _delete(self, pk: str, sk: str, condition: Condition | None = None) -> bool:
        request = self._with({"TableName": self.table, "Key": key(pk, sk)}, condition)
        try:
            self.dynamodb.delete_item(**request)
        except Exception as exc:
            return _condition_failed(exc)
        return True

    def _query(
        self, pk: str, sk_prefix: str | None = None, *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        ph = Placeholders()
        expression = f"{ph.name('pk')} = {ph.value(pk)}"
        if sk_prefix is not None:
            expression += f" AND begins_with({ph.name('sk')}, {ph.value(sk_prefix)})"
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": expression,
            **ph.request(),
        }
        if consistent:
            request["ConsistentRead"] = True
        items: list[dict[str, Any]] = []
        while True:
            page = self.dynamodb.query(**request)
            items.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _operation(self, operation: Operation) -> dict[str, Any]:
        base: dict[str, Any] = {"TableName": self.table}
        if isinstance(operation, Put):
            return {
                "Put": self._with({**base, "Item": to_item(operation.item)}, operation.condition)
            }
        target = {**base, "Key": key(operation.pk, operation.sk)}
        if isinstance(operation, Change):
            return {"Update": self._with(target, operation.condition, operation.update)}
        if isinstance(operation, Check):
            return {"ConditionCheck": self._with(target, operation.condition)}
        return {"Delete": self._with(target, operation.condition)}

    def _transact(self, operations: list[Operation]) -> None:
        """A TransactionConflict (another transaction on the same item in flight) or a
        throttled item is retried with jittered backoff; a failed condition is raised at once."""
        items = [self._operation(op) for op in operations]
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.dynamodb.transact_write_items(TransactItems=items)
                return
            except Exception as exc:
                code = error_code(exc)
                if code == "TransactionCanceledException":
                    codes = cancellation_codes(exc)
                    if CONDITION_FAILED in codes:
                        raise StoreConditionError(codes) from None
                    if attempt == TRANSACTION_ATTEMPTS - 1:
                        if THROTTLED_REASONS.intersection(codes):
                            raise  # still over capacity: unavailable_from answers 503
                        raise StoreConditionError(codes) from None
                elif code != "TransactionConflictException" or attempt == TRANSACTION_ATTEMPTS - 1:
                    raise
            self._sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter
        raise AssertionError("unreachable")


def query_items(
    client: Any, table: str, pk: str, *, consistent: bool = False
) -> list[dict[str, Any]]:
    """Every item of partition ``pk``, all pages, as DynamoDB items (not decoded): for the
    project purge, which hands the keys back to ``BatchWriteItem`` as they came."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    if consistent:
        request["ConsistentRead"] = True
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**request)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def error_code(error: Exception) -> str | None:
    """The service's error code. Matched by code, not by ``client.exceptions`` classes:
    threads touching a fresh client's ``exceptions`` at once can each get their own class
    (botocore builds them lazily, unlocked), so an ``except`` on one misses the other."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _condition_failed(error: Exception) -> bool:
    """False for a failed condition (the caller's answer); any other error is raised."""
    if error_code(error) == "ConditionalCheckFailedException":
        return False
    raise error


def cancellation_codes(error: Exception) -> list[str]:
    """The per-item reasons of a cancelled transaction ("None" where the item was fine)."""
    response = getattr(error, "response", {}) or {}
    reasons = response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


# --------------------------------------------------------------------------- in memory


class MemoryTable:
    """The fake's table: items by (pk, sk); stores built on one table see each other's items."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.RLock()


class MemoryItems(ItemStore):
    """The operations over a ``MemoryTable`` (values deep-copied in and out)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.memory = table or MemoryTable()

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with self.memory.lock:
            found = self.memory.items.get((pk, sk))
            return copy.deepcopy(found) if found is not None else None

    def _put(self, item: dict[str, Any], condition: Condition | None = None) -> bool:
        with self.memory.lock:
            target = (item["pk"], item["sk"])
            if condition is not None and not condition.holds(self.memory.items.get(target)):
                return False
            self.memory.items[target] = copy.deepcopy(item)
            return True

    def _update(
        self, pk: str, sk: str, update: Update, condition: Condition | None = None
    ) -> dict[str, Any] | None:
        with self.memory.lock:
            current = self.memory.items.get((pk, sk))
            if condition is not None and not condition.holds(current):
                return None
            new = update.apply(current or {"pk": pk, "sk": sk})
            self.memory.items[(pk, sk)] = new
            return copy.deepcopy(new)

    def _delete(self, pk: str, sk: str, condition: Condition | None = None) -> bool:
        with self.memory.lock:
            current = self.memory.items.get((pk, sk))
            if condition is not None and not condition.holds(current):
                return False
            self.memory.items.pop((pk, sk), None)
            return True

    def _query(
        self, pk: str, sk_prefix: str | None = None, *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        with self.memory.lock:
            found = [
                copy.deepcopy(item)
                for (item_pk, sk), item in sorted(self.memory.items.items())
                if item_pk == pk and (sk_prefix is None or sk.startswith(sk_prefix))
            ]
        return found

    def _transact(self, operations: list[Operation]) -> None:
        with self.memory.lock:
            codes = []
            for op in operations:
                target = (op.item["pk"], op.item["sk"]) if isinstance(op, Put) else (op.pk, op.sk)
                condition = op.condition
                ok = condition is None or condition.holds(self.memory.items.get(target))
                codes.append("None" if ok else CONDITION_FAILED)
            if CONDITION_FAILED in codes:
                raise StoreConditionError(codes)
            for op in operations:
                if isinstance(op, Put):
                    self._put(op.item)
                elif isinstance(op, Change):
                    self._update(op.pk, op.sk, op.update)
                elif isinstance(op, Remove):
                    self._delete(op.pk, op.sk)

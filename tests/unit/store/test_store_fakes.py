"""The item stores' logic on the in-memory fakes (the same scenarios run on DynamoDB in
tests/functional/store/test_store_dynamodb.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.store.codec import from_attr, to_attr
from chalicelib.store.expressions import Placeholders, Update, attr, item_absent
from chalicelib.store.registry import Stores, memory_stores
from tests.support.store_scenarios import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_store_scenario_on_the_fakes(scenario: Callable[[Stores], None]) -> None:
    scenario(memory_stores())


@pytest.mark.parametrize("value", ["s", 1, 2.5, True, None, {"a": [1, "b"]}, [], 10**15])
def test_attribute_round_trip(value: object) -> None:
    assert from_attr(to_attr(value)) == value


def test_conditions_render_with_placeholders_only() -> None:
    ph = Placeholders()
    condition = item_absent() | (attr("status").eq("running") & attr("lease_until").lt(5))
    assert condition.render(ph) == "(attribute_not_exists(#n0) OR (#n1 = :v0 AND #n2 < :v1))"
    assert ph.names == {"#n0": "pk", "#n1": "status", "#n2": "lease_until"}
    assert ph.values == {":v0": {"S": "running"}, ":v1": {"N": "5"}}


def test_conditions_hold_as_dynamodb_evaluates_them() -> None:
    running = attr("status").eq("running")
    assert not running.holds(None) and not running.holds({"status": 1})
    assert attr("n").lt(5).holds({"n": 4.5}) and not attr("n").lt(5).holds({"n": "4"})
    assert attr("x").ne(1).holds({}) and item_absent().holds(None)


def test_updates_render_and_apply_alike() -> None:
    update = Update().set("a", 1).set_default("since", 5).add("n", 2).remove("ttl")
    assert update.render(Placeholders()) == (
        "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1), #n2 = if_not_exists(#n2, :v2) + :v3"
        " REMOVE #n3"
    )
    assert update.apply({"since": 1, "ttl": 9}) == {"a": 1, "since": 1, "n": 2}


class _ServiceError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "CancellationReasons": [{"Code": "None"}]}


class _RefusingClient:
    """A client whose every call fails with ``code`` (of a class ``except`` could not name)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(**_: object) -> None:
            self.calls += 1
            raise _ServiceError(self.code)

        return call


def test_dynamodb_errors_are_told_by_code_not_by_exception_class() -> None:
    from chalicelib.store.items import DynamoItems, Put, StoreConditionError

    failed = DynamoItems(_RefusingClient("ConditionalCheckFailedException"), "t")
    assert failed._put({"pk": "a", "sk": "b"}, item_absent()) is False
    assert failed._update("a", "b", Update().set("x", 1)) is None
    throttled = DynamoItems(_RefusingClient("ProvisionedThroughputExceededException"), "t")
    with pytest.raises(_ServiceError):
        throttled._put({"pk": "a", "sk": "b"})
    conflict = _RefusingClient("TransactionConflictException")
    with pytest.raises(_ServiceError):
        DynamoItems(conflict, "t", sleep=lambda _: None)._transact([Put({"pk": "a", "sk": "b"})])
    assert conflict.calls == 6  # retried, then raised
    cancelled = DynamoItems(
        _RefusingClient("TransactionCanceledException"), "t", sleep=lambda _: None
    )
    with pytest.raises(StoreConditionError):
        cancelled._transact([Put({"pk": "a", "sk": "b"})])


class _ThrottledTransactionError(Exception):
    """A transaction cancelled because one item was over the table's capacity."""

    def __init__(self) -> None:
        super().__init__("TransactionCanceledException")
        self.response = {
            "Error": {"Code": "TransactionCanceledException"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}],
        }


def test_a_throttled_transaction_is_retried_then_answers_503_not_a_conflict() -> None:
    from botocore.exceptions import ClientError

    from chalicelib.errors import unavailable_from
    from chalicelib.store.items import DynamoItems, Put

    calls: list[int] = []

    class ThrottledClient:
        def transact_write_items(self, **_: object) -> None:
            calls.append(1)
            error = _ThrottledTransactionError()
            raise ClientError(error.response, "TransactWriteItems")  # type: ignore[arg-type]

    items = DynamoItems(ThrottledClient(), "t", sleep=lambda _: None)
    with pytest.raises(ClientError) as raised:
        items._transact([Put({"pk": "a", "sk": "b"}), Put({"pk": "a", "sk": "c"})])
    assert len(calls) == 6  # retried like a conflict, then given up
    answer = unavailable_from(raised.value)
    assert answer is not None and answer.status == 503

"""The item stores on DynamoDB (the emulator): the very scenarios the fakes pass."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from chalicelib.store.registry import Stores, dynamo_stores
from devtools.local_resources import LocalResources
from tests.support.store_scenarios import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_store_scenario_on_dynamodb(
    scenario: Callable[[Stores], None], local_resources: LocalResources
) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=local_resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    scenario(dynamo_stores(client, local_resources.table))


def _refused_at_once(stores: Stores, tag: str) -> tuple[list[object], list[BaseException]]:
    """Eight threads, released together, each making a write the table refuses."""
    import threading

    for n in range(1, 8, 2):  # counters at their limit of 1
        assert stores.counters.hit(f"RACE#{tag}", f"W{n}", 1, 2_000_000_000) == 1
    start = threading.Barrier(8)
    answers: list[object] = []
    errors: list[BaseException] = []

    def refused(n: int) -> None:
        try:
            start.wait()
            if n % 2:  # a counter at its limit: ConditionalCheckFailed
                answers.append(stores.counters.hit(f"RACE#{tag}", f"W{n}", 1, 2_000_000_000))
            else:  # a project that does not exist: ConditionalCheckFailed
                answers.append(stores.projects.update("nobody", f"p{n}", {"name": "x"}, "t"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=refused, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers, errors


def test_refused_writes_from_threads_on_a_fresh_client_are_answers_not_errors(
    local_resources: LocalResources,
) -> None:
    # botocore builds a fresh client's ``exceptions`` classes lazily and unlocked: threads
    # matching ``client.exceptions.X`` at once could each get their own class and miss the
    # error (a 500 under concurrent requests). The store matches error codes instead.
    for round_ in range(3):
        client = boto3.client(
            "dynamodb",
            endpoint_url=local_resources.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        stores = dynamo_stores(client, local_resources.table)
        answers, errors = _refused_at_once(stores, str(round_))
        assert errors == []
        assert answers == [None] * 8

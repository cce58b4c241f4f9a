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

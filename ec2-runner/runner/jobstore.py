"""The runner's side of the job item: claim, lease, progress, phase, outcome.

The logic and its conditions live in ``chalicelib.store.jobs`` (the one writer library
of the job item, shared with the API); this is the runner's handle on it, plus the
runner's heartbeat item (``chalicelib.store.runners``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.store.codec import from_item, timestamp, to_attr
from chalicelib.store.jobs import DynamoJobStore, LeaseLostError
from chalicelib.store.runners import DynamoRunnerStore

__all__ = ["JobStore", "LeaseLostError", "decode_item", "encode", "iso"]

encode = to_attr
decode_item = from_item
iso = timestamp


class JobStore(DynamoJobStore):
    """The job store over the runner's DynamoDB client and table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        super().__init__(dynamodb, table)
        self._runners = DynamoRunnerStore(dynamodb, table)

    def put_runner_heartbeat(
        self, runner_id: str, now: float, version: str, current_job: str | None, state: str
    ) -> None:
        self._runners.put_heartbeat(runner_id, now, version, current_job, state)

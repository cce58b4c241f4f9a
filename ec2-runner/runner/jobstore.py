"""The runner's side of the job item in DynamoDB: claim, lease, progress, outcome.

Every state change is a conditional update, so several runners on one queue
stay correct: only the holder of a live lease (``runner_id`` and ``status =
running``) may write progress or an outcome, and a claim succeeds only on a
queued job or on a running job whose lease has run out.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.models.jobs import JobRecord, job_pk, job_sk

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class LeaseLostError(RuntimeError):
    """This runner no longer holds the job (another runner claimed it, or it was finished)."""


def encode(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_decimals(value))


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobStore:
    def __init__(self, dynamodb: Any, table: str):
        self._ddb = dynamodb
        self._table = table

    def _key(self, project_id: str, job_id: str) -> dict[str, Any]:
        return {"pk": {"S": job_pk(project_id)}, "sk": {"S": job_sk(job_id)}}

    def get(self, project_id: str, job_id: str) -> JobRecord | None:
        response = self._ddb.get_item(
            TableName=self._table, Key=self._key(project_id, job_id), ConsistentRead=True
        )
        item = response.get("Item")
        return JobRecord.from_item(decode_item(item)) if item else None

    def _update(
        self,
        project_id: str,
        job_id: str,
        sets: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        *,
        removes: tuple[str, ...] = (),
        add_attempt: bool = False,
        first_start: dict[str, Any] | None = None,
    ) -> JobRecord | None:
        """A conditional SET; returns the new record, or None when the condition failed."""
        names: dict[str, str] = {}
        attr_values: dict[str, Any] = {}
        clauses = []
        for i, (name, value) in enumerate(sets.items()):
            names[f"#s{i}"] = name
            attr_values[f":s{i}"] = encode(value)
            clauses.append(f"#s{i} = :s{i}")
        if add_attempt:
            names["#attempts"] = "attempts"
            attr_values[":zero"] = encode(0)
            attr_values[":one"] = encode(1)
            clauses.append("#attempts = if_not_exists(#attempts, :zero) + :one")
        for i, (name, value) in enumerate((first_start or {}).items()):
            names[f"#f{i}"] = name
            attr_values[f":f{i}"] = encode(value)
            clauses.append(f"#f{i} = if_not_exists(#f{i}, :f{i})")
        expression = "SET " + ", ".join(clauses)
        if removes:
            for i, name in enumerate(removes):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        for placeholder, name in (
            ("#status", "status"),
            ("#runner", "runner_id"),
            ("#lease", "lease_until"),
        ):
            if placeholder in condition:  # DynamoDB refuses unused names
                names.setdefault(placeholder, name)
        for key, value in values.items():
            attr_values[key] = encode(value)
        try:
            response = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(project_id, job_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return JobRecord.from_item(decode_item(response["Attributes"]))

    def claim(
        self, project_id: str, job_id: str, runner_id: str, now: float, lease_s: float
    ) -> JobRecord | None:
        """queued -> running (or take over an expired lease); None if not claimable."""
        return self._update(
            project_id,
            job_id,
            {
                "status": "running",
                "runner_id": runner_id,
                "lease_until": now + lease_s,
                "updated_at": iso(now),
                "progress_message": "started",
            },
            "attribute_exists(pk) AND (#status = :queued OR (#status = :running AND "
            "(#lease < :now OR #runner = :me)))",
            {":queued": "queued", ":running": "running", ":now": now, ":me": runner_id},
            add_attempt=True,
            first_start={"started_at": iso(now), "started_at_epoch": now},
        )

    def extend_lease(
        self, project_id: str, job_id: str, runner_id: str, now: float, lease_s: float
    ) -> JobRecord:
        record = self._update(
            project_id,
            job_id,
            {"lease_until": now + lease_s},
            "#status = :running AND #runner = :me",
            {":running": "running", ":me": runner_id},
        )
        if record is None:
            raise LeaseLostError(f"job {job_id} is no longer held by {runner_id}")
        return record

    def report_progress(
        self,
        project_id: str,
        job_id: str,
        runner_id: str,
        now: float,
        percent: int,
        message: str | None,
    ) -> None:
        record = self._update(
            project_id,
            job_id,
            {"progress": percent, "progress_message": message, "updated_at": iso(now)},
            "#status = :running AND #runner = :me",
            {":running": "running", ":me": runner_id},
        )
        if record is None:
            raise LeaseLostError(f"job {job_id} is no longer held by {runner_id}")

    def finish(
        self,
        project_id: str,
        job_id: str,
        runner_id: str,
        now: float,
        status: str,
        *,
        error: dict[str, str] | None = None,
        result: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> JobRecord:
        """running -> a final state (succeeded/failed/cancelled/planned), if we hold the lease."""
        sets: dict[str, Any] = {
            "status": status,
            "updated_at": iso(now),
            "finished_at": iso(now),
            "finished_at_epoch": now,
        }
        if status == "succeeded":
            sets["progress"] = 100
            sets["progress_message"] = "done"
        if error is not None:
            sets["error"] = error
        if result is not None:
            sets["result"] = result
        if summary is not None:
            sets["summary"] = summary
        sets.update(attributes or {})
        record = self._update(
            project_id,
            job_id,
            sets,
            "#status = :running AND #runner = :me",
            {":running": "running", ":me": runner_id},
            removes=("lease_until",),
        )
        if record is None:
            raise LeaseLostError(f"job {job_id} is no longer held by {runner_id}")
        return record

    def release(
        self, project_id: str, job_id: str, runner_id: str, now: float, reason: str
    ) -> bool:
        """running -> queued (a retry later, or handed back on stop); False if not ours."""
        record = self._update(
            project_id,
            job_id,
            {"status": "queued", "updated_at": iso(now), "progress_message": reason},
            "#status = :running AND #runner = :me",
            {":running": "running", ":me": runner_id},
            removes=("lease_until", "runner_id"),
        )
        return record is not None

    def set_attributes(self, project_id: str, job_id: str, attributes: dict[str, Any]) -> None:
        """Informational attributes (last error, place in line) on an existing job item."""
        if attributes:
            self._update(project_id, job_id, attributes, "attribute_exists(pk)", {})

    def fail_unfinished(
        self, project_id: str, job_id: str, now: float, code: str, message: str
    ) -> bool:
        """Fail a job that is not finished, whoever holds it (dead letters, poison messages).

        A running job is only taken over when its lease has run out, so a live
        attempt elsewhere is not overwritten.
        """
        record = self._update(
            project_id,
            job_id,
            {
                "status": "failed",
                "error": {"code": code, "message": message},
                "updated_at": iso(now),
                "finished_at": iso(now),
                "finished_at_epoch": now,
            },
            "attribute_exists(pk) AND (#status = :queued OR (#status = :running AND "
            "(attribute_not_exists(#lease) OR #lease < :now)))",
            {":queued": "queued", ":running": "running", ":now": now},
            removes=("lease_until",),
        )
        return record is not None

    def put_runner_heartbeat(
        self, runner_id: str, now: float, version: str, current_job: str | None, state: str
    ) -> None:
        item: dict[str, Any] = {
            "pk": "RUNNERS",
            "sk": f"RUNNER#{runner_id}",
            "runner_id": runner_id,
            "at": now,
            "at_iso": iso(now),
            "version": version,
            "state": state,
            # Stale heartbeats of dead runners expire; /health also filters by `at`.
            "expires_at": int(now) + 7 * 24 * 3600,
        }
        if current_job:
            item["current_job"] = current_job
        self._ddb.put_item(
            TableName=self._table, Item={key: encode(value) for key, value in item.items()}
        )

"""Everything a project owns besides its own item: what blocks deleting it, and the purge.

A project's items live in partition ``PROJECT#<id>`` (jobs, uploads, bundles,
deployments, stacks; the ``PROJECT`` lookup item is deleted with the project
itself), its objects under ``uploads/``, ``reports/``, ``bundles/``, ``logs/`` and
``plans/`` + ``<id>/``. Terraform state (``tfstate/<id>/``) is kept: deletion is
refused while a stack may hold infrastructure, and a state object is the only way
back to resources an apply left behind (the bucket keeps it versioned).

Deletion is refused while work is in flight or infrastructure may be live:

- a job ``queued`` or ``running`` (the runner would write into a purged project);
- a stack whose newest applied deployment is a ``deploy`` (not destroyed since). An
  apply that started and failed counts as applied: it may have created resources.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib import keys
from chalicelib.deploy_state import live_stacks
from chalicelib.store.codec import from_item
from chalicelib.store.items import query_items

OBJECT_PREFIXES = ("uploads", "reports", "bundles", "logs", "plans")
_ACTIVE_JOB = frozenset({"queued", "running"})
_BATCH_WRITE_MAX = 25  # DynamoDB BatchWriteItem
_DELETE_OBJECTS_MAX = 1000  # S3 DeleteObjects


@dataclass(frozen=True)
class PurgeResult:
    items: int
    objects: int


class ProjectData(Protocol):
    def blocking_reason(self, project_id: str) -> tuple[str, dict[str, Any]] | None:
        """Why the project cannot be deleted now (message, details), or None."""
        ...

    def purge(self, project_id: str) -> PurgeResult:
        """Delete the project's items (not its ``PROJECT`` lookup) and objects."""
        ...


def blocking_reason_of(items: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """Pure: the partition's items (plain values) -> why deletion must wait, or None."""
    jobs = {i["job_id"]: i for i in items if str(i.get("sk", "")).startswith(keys.JOB_PREFIX)}
    for job in sorted(jobs.values(), key=lambda j: j["job_id"]):
        if job.get("status") in _ACTIVE_JOB:
            return (
                f"job {job['job_id']} ({job.get('kind')}) is {job['status']}: "
                "wait for it or cancel it first",
                {"job_id": job["job_id"], "kind": job.get("kind"), "status": job["status"]},
            )
    deployments = [i for i in items if str(i.get("sk", "")).startswith(keys.DEPLOY_PREFIX)]
    live = live_stacks(deployments, jobs)
    if live:
        return (
            f"stack {live[0]!r} has applied infrastructure: destroy it first",
            {"stacks": live},
        )
    return None


class DynamoS3ProjectData:
    """``ProjectData`` over the table and the bucket (boto3 clients passed in)."""

    def __init__(
        self,
        dynamodb: Any,
        s3: Any,
        table: str,
        bucket: str,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = _DELETE_OBJECTS_MAX,
    ) -> None:
        self._ddb = dynamodb
        self._s3 = s3
        self._table = table
        self._bucket = bucket
        self._sleep = sleep
        self._page_size = min(page_size, _DELETE_OBJECTS_MAX)  # small in tests: paging

    def _items(self, project_id: str) -> list[dict[str, Any]]:
        return query_items(self._ddb, self._table, keys.project_pk(project_id), consistent=True)

    def blocking_reason(self, project_id: str) -> tuple[str, dict[str, Any]] | None:
        return blocking_reason_of([from_item(i) for i in self._items(project_id)])

    def purge(self, project_id: str) -> PurgeResult:
        item_keys = [
            {"pk": i["pk"], "sk": i["sk"]}
            for i in self._items(project_id)
            if i["sk"]["S"] != keys.PROJECT_SK
        ]
        for start in range(0, len(item_keys), _BATCH_WRITE_MAX):
            requests = [
                {"DeleteRequest": {"Key": k}} for k in item_keys[start : start + _BATCH_WRITE_MAX]
            ]
            self._batch_delete(requests)
        objects = sum(self._delete_prefix(f"{p}/{project_id}/") for p in OBJECT_PREFIXES)
        return PurgeResult(items=len(item_keys), objects=objects)

    def _batch_delete(self, requests: list[dict[str, Any]]) -> None:
        pending = {self._table: requests}
        for attempt in range(8):
            answer = self._ddb.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return
            self._sleep(min(2.0, 0.05 * 2**attempt))  # throttled: back off, then retry
        raise RuntimeError(f"could not delete {len(pending[self._table])} project items")

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self._bucket, Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
        )
        for page in pages:
            found = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for start in range(0, len(found), self._page_size):
                chunk = found[start : start + self._page_size]
                answer = self._s3.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": chunk, "Quiet": True}
                )
                errors = answer.get("Errors") or []
                if errors:
                    raise RuntimeError(f"could not delete {len(errors)} objects under {prefix}")
                deleted += len(chunk)
        return deleted

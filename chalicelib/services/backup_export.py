"""Export the API's DynamoDB table to S3, and load such an export into an empty table.

Format: ``backups/api/YYYY-MM-DD.jsonl.gz``, one line per item:
``{"Item": {...}}`` in DynamoDB's typed JSON (binary values base64, as in
DynamoDB's own exports), so every type round-trips exactly. Object metadata:
``sha256`` of the gzip body and ``item-count``. Items already past their TTL
(``expires_at``) are left out: they would be deleted anyway.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

EXPORT_PREFIX = "backups/api/"


class BackupRestoreError(RuntimeError):
    """The export is missing or damaged, or the target table is not empty."""


@dataclass(frozen=True)
class ExportResult:
    key: str
    items: int
    size_bytes: int
    sha256: str


def export_key(day: date) -> str:
    return f"{EXPORT_PREFIX}{day.isoformat()}.jsonl.gz"


def _to_json(value: dict[str, Any]) -> dict[str, Any]:
    """A low-level attribute value with bytes as base64 (JSON cannot carry bytes)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: _to_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_to_json(v) for v in inner]}
    return value


def _from_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {k: _from_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_from_json(v) for v in inner]}
    return value


def _expired(item: dict[str, Any], now: float) -> bool:
    ttl = item.get("expires_at", {}).get("N")
    try:
        return ttl is not None and float(ttl) < now
    except ValueError:
        return False


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = dynamodb.scan(**kwargs)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def export_table(
    dynamodb: Any,
    s3: Any,
    *,
    table: str,
    bucket: str,
    now: float | None = None,
) -> ExportResult:
    """Write today's export (UTC date of ``now``); a second export the same day replaces it."""
    now = time.time() if now is None else now
    key = export_key(datetime.fromtimestamp(now, tz=UTC).date())
    count = 0
    # Spooled: small tables stay in memory, big ones go to /tmp (Lambda has 512 MB there).
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spool:
        with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as gz:
            for item in _scan(dynamodb, table):
                if _expired(item, now):
                    continue
                line = json.dumps({"Item": {k: _to_json(v) for k, v in item.items()}})
                gz.write(line.encode() + b"\n")
                count += 1
        size = spool.tell()
        spool.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: spool.read(1 << 20), b""):
            digest.update(block)
        spool.seek(0)
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=spool.read(),
            ContentType="application/gzip",
            Metadata={"sha256": digest.hexdigest(), "item-count": str(count)},
        )
    return ExportResult(key=key, items=count, size_bytes=size, sha256=digest.hexdigest())


def latest_export_key(s3: Any, bucket: str) -> str | None:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EXPORT_PREFIX):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"].endswith(".gz"))
    return max(keys) if keys else None  # ISO dates sort by time


def restore_table(
    dynamodb: Any,
    s3: Any,
    *,
    table: str,
    bucket: str,
    key: str,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Load the export at ``key`` into ``table``, which must be empty. Returns the item count."""
    if dynamodb.scan(TableName=table, Limit=1, ConsistentRead=True).get("Items"):
        raise BackupRestoreError(f"table {table} is not empty: restore only loads an empty table")
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        raise BackupRestoreError(f"no export at s3://{bucket}/{key}") from None
    body = response["Body"].read()
    expected = response.get("Metadata", {}).get("sha256")
    if not expected or hashlib.sha256(body).hexdigest() != expected:
        raise BackupRestoreError(f"{key}: checksum missing or wrong: refusing to restore it")
    items = []
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as gz:
        for number, line in enumerate(gz, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)["Item"]
                items.append({k: _from_json(v) for k, v in raw.items()})
            except (ValueError, KeyError, TypeError) as exc:
                raise BackupRestoreError(f"{key}: line {number} is not an item: {exc}") from None
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        attempt = 0
        while requests:
            response = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if requests:
                attempt += 1
                if attempt > 8:
                    raise BackupRestoreError("DynamoDB kept throttling the restore; try again")
                sleep(min(5.0, 0.1 * 2**attempt))
    return len(items)


@dataclass(frozen=True)
class DailyBackupResult:
    export: ExportResult
    snapshot_job_id: str


def run_daily_backup(ctx: Any, request_id: str | None = None) -> DailyBackupResult:
    """The daily schedule: export the table, then ask the runner for a runner.db snapshot."""
    from chalicelib.models.jobs import SYSTEM_PROJECT_ID
    from chalicelib.services.jobs import for_context

    export = export_table(
        ctx.aws.dynamodb,
        ctx.aws.s3,
        table=ctx.settings.table,
        bucket=ctx.settings.bucket,
        now=ctx.clock(),
    )
    job = for_context(ctx).submit(
        project_id=SYSTEM_PROJECT_ID,
        kind="snapshot",
        payload={"reason": "daily", "api_export_key": export.key},
        request_id=request_id,
    )
    return DailyBackupResult(export=export, snapshot_job_id=job.job_id)

"""The API table's daily export to S3 and its restore into an empty table."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from runner_harness import client

from chalicelib.services.backup_export import (
    BackupRestoreError,
    export_table,
    latest_export_key,
    restore_table,
)
from devtools.local_resources import LocalResources, create_local_resources


def _items(now: float) -> list[dict]:
    items = [
        {
            "pk": {"S": f"USER#u{i}"},
            "sk": {"S": "USER"},
            "email": {"S": f"u{i}@example.com"},
            "project_count": {"N": str(i)},
        }
        for i in range(40)
    ]
    items.append(
        {
            "pk": {"S": "PROJECT#p1"},
            "sk": {"S": "JOB#j1"},
            "status": {"S": "succeeded"},
            "lease_until": {"N": "1764130000.125"},
            "summary": {
                "M": {
                    "apps": {"L": [{"M": {"port": {"N": "5000"}, "framework": {"NULL": True}}}]},
                    "ok": {"BOOL": True},
                }
            },
            "tags": {"SS": ["a", "b"]},
            "blob": {"B": b"\x00\xffbinary"},
            "expires_at": {"N": str(int(now) + 3600)},
        }
    )
    return items


def test_export_then_restore_into_an_empty_table_round_trips(
    local_resources: LocalResources,
) -> None:
    ddb = client(local_resources, "dynamodb")
    s3 = client(local_resources, "s3")
    now = time.time()
    for item in _items(now):
        ddb.put_item(TableName=local_resources.table, Item=item)
    ddb.put_item(  # an expired rate window: left out of the export
        TableName=local_resources.table,
        Item={
            "pk": {"S": "RATE#u1#1"},
            "sk": {"S": "RATE"},
            "expires_at": {"N": str(int(now) - 5)},
        },
    )

    result = export_table(
        ddb, s3, table=local_resources.table, bucket=local_resources.bucket, now=now
    )

    assert (
        result.key == f"backups/api/{datetime.fromtimestamp(now, UTC).date().isoformat()}.jsonl.gz"
    )
    assert result.items == 41
    assert latest_export_key(s3, local_resources.bucket) == result.key
    head = s3.head_object(Bucket=local_resources.bucket, Key=result.key)
    assert head["Metadata"] == {"sha256": result.sha256, "item-count": "41"}

    empty = create_local_resources(
        local_resources.endpoint_url, suffix="-restore-" + uuid.uuid4().hex[:8]
    )
    count = restore_table(ddb, s3, table=empty.table, bucket=local_resources.bucket, key=result.key)

    assert count == 41

    def scan(table: str) -> dict:
        found = {}
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                found[(item["pk"]["S"], item["sk"]["S"])] = item
        return found

    original = scan(local_resources.table)
    del original[("RATE#u1#1", "RATE")]
    assert scan(empty.table) == original

    with pytest.raises(BackupRestoreError, match="not empty"):
        restore_table(ddb, s3, table=empty.table, bucket=local_resources.bucket, key=result.key)


def test_restore_refuses_a_damaged_export(local_resources: LocalResources) -> None:
    ddb = client(local_resources, "dynamodb")
    s3 = client(local_resources, "s3")
    s3.put_object(
        Bucket=local_resources.bucket,
        Key="backups/api/2026-01-01.jsonl.gz",
        Body=b"not gzip",
        Metadata={"sha256": "0" * 64},
    )
    with pytest.raises(BackupRestoreError, match="checksum"):
        restore_table(
            ddb,
            s3,
            table=local_resources.table,
            bucket=local_resources.bucket,
            key="backups/api/2026-01-01.jsonl.gz",
        )
    with pytest.raises(BackupRestoreError, match="no export"):
        restore_table(
            ddb,
            s3,
            table=local_resources.table,
            bucket=local_resources.bucket,
            key="backups/api/1999-01-01.jsonl.gz",
        )

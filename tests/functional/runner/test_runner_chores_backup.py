"""Runner heartbeat, capacity samples, the dead-letter sweep, snapshots and restore."""

from __future__ import annotations

import gzip
import hashlib
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from runner_harness import client, clients_for, job_service, message_body, runner_settings

from devtools.local_resources import LocalResources
from runner.backup import RestoreError, list_snapshots, restore, snapshot_key, take_snapshot
from runner.chores import DeadLetterSweeper, runner_chores
from runner.jobstore import JobStore
from runner.ledger import Ledger


def test_chores_write_the_runner_heartbeat_and_a_capacity_sample(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    clients = clients_for(local_resources)
    ledger = Ledger(settings.runner_db)
    store = JobStore(clients.dynamodb, settings.table)
    chores = runner_chores(
        settings,
        sqs=clients.sqs,
        store=store,
        ledger=ledger,
        version="9.9.9",
        current_job=lambda: "job-42",
    )

    chores.start()
    chores.close()

    item = client(local_resources, "dynamodb").get_item(
        TableName=settings.table,
        Key={"pk": {"S": "RUNNERS"}, "sk": {"S": f"RUNNER#{settings.runner_id}"}},
    )["Item"]
    assert item["version"]["S"] == "9.9.9"
    assert item["state"]["S"] == "stopped"  # the final beat on close
    assert float(item["at"]["N"]) > 0
    rows = ledger.query("SELECT cpu_percent, memory_percent, disk_free_bytes FROM capacity_samples")
    assert len(rows) == 1 and rows[0][1] > 0 and rows[0][2] > 0


def test_dead_letter_sweep_fails_the_job_once_and_keeps_the_message(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    clients = clients_for(local_resources)
    ledger = Ledger(settings.runner_db)
    store = JobStore(clients.dynamodb, settings.table)
    jobs = job_service(local_resources)
    project = "p" + secrets.token_hex(5)
    job = jobs.submit(project_id=project, kind="analyze", payload={}, request_id=None)
    store.set_attributes(
        project, job.job_id, {"last_error": {"code": "x", "message": "S3 throttled"}}
    )
    clients.sqs.send_message(
        QueueUrl=settings.dlq_url, MessageBody=message_body(job.job_id, project)
    )
    clients.sqs.send_message(QueueUrl=settings.dlq_url, MessageBody="garbage")
    sweeper = DeadLetterSweeper(
        sqs=clients.sqs, dlq_url=settings.dlq_url, store=store, ledger=ledger
    )

    assert sweeper.sweep() == 2
    assert sweeper.sweep() == 0  # already recorded

    failed = jobs.get(project, job.job_id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.code == "dead_lettered"
    assert "S3 throttled" in failed.error.message
    # Still in the DLQ and visible, for operators and alarms.
    attrs = clients.sqs.get_queue_attributes(
        QueueUrl=settings.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "2"


def test_snapshot_while_writing_then_restore_keeps_every_committed_row(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    s3 = client(local_resources, "s3")
    ledger = Ledger(settings.runner_db)
    committed: list[str] = []
    stop = threading.Event()

    def write_attempts() -> None:
        n = 0
        while not stop.is_set():
            job_id = f"job-{n}"
            ledger.start_attempt(
                job_id=job_id,
                project_id="p",
                kind="analyze",
                attempt=1,
                runner_id="r",
                request_id=None,
                receive_count=1,
                started_at=float(n),
                queue_wait_s=None,
            )
            committed.append(job_id)
            n += 1

    writer = threading.Thread(target=write_attempts)
    writer.start()
    try:
        while len(committed) < 200:
            stop.wait(0.01)
        snap = take_snapshot(ledger, s3, settings.bucket, work_dir=settings.work_dir)
        written_before_snapshot_ended = len(committed)
    finally:
        stop.set()
        writer.join()
    head = s3.head_object(Bucket=settings.bucket, Key=snap.key)
    body = s3.get_object(Bucket=settings.bucket, Key=snap.key)["Body"].read()
    assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert snap.key.startswith("backups/runner/" + datetime.now(UTC).strftime("%Y/%m/%d/"))
    ledger.close()

    restored_path = tmp_path / "restored" / "runner.db"
    restored_path.parent.mkdir()
    # A stale WAL next to the target must not be replayed into the restored file.
    Path(str(restored_path) + "-wal").write_bytes(b"stale")
    restore(s3, settings.bucket, restored_path)

    assert not Path(str(restored_path) + "-wal").exists()
    conn = sqlite3.connect(restored_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = {r[0] for r in conn.execute("SELECT job_id FROM attempts")}
    snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    conn.close()
    # Every row committed before the backup started is there; nothing half-written.
    assert set(committed[:200]) <= rows
    assert len(rows) <= written_before_snapshot_ended
    assert snapshots == 0  # recorded after the copy was taken
    reopened = Ledger(restored_path)  # the restored file opens (and migrates) as a ledger
    assert len(reopened.query("SELECT id FROM attempts")) == len(rows)
    reopened.close()


def test_restore_refuses_a_tampered_snapshot_and_picks_by_date(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    s3 = client(local_resources, "s3")
    target = tmp_path / "target.db"
    with pytest.raises(RestoreError, match="no runner snapshot"):
        restore(s3, settings.bucket, target)

    good = sqlite3.connect(tmp_path / "good.db")
    good.execute("CREATE TABLE t (x)")
    good.execute("INSERT INTO t VALUES (1)")
    good.commit()
    good.close()
    data = gzip.compress((tmp_path / "good.db").read_bytes())
    older = snapshot_key(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    newer = snapshot_key(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    s3.put_object(
        Bucket=settings.bucket,
        Key=older,
        Body=data,
        Metadata={"sha256": hashlib.sha256(data).hexdigest()},
    )
    s3.put_object(Bucket=settings.bucket, Key=newer, Body=data, Metadata={"sha256": "0" * 64})
    assert {s.key for s in list_snapshots(s3, settings.bucket)} == {older, newer}

    with pytest.raises(RestoreError, match="checksum mismatch"):
        restore(s3, settings.bucket, target)
    assert not target.exists()

    restored = restore(s3, settings.bucket, target, on=datetime(2026, 11, 20).date())
    assert restored.key == older
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()

"""The runner as a real process: kill -9 mid-job and restart, warm stop on SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.models.jobs import JobRecord
from chalicelib.services.jobs import JobService
from devtools.local_resources import LocalResources
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _client(resources: LocalResources, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _jobs(resources: LocalResources) -> JobService:
    return JobService(
        dynamodb=_client(resources, "dynamodb"),
        sqs=_client(resources, "sqs"),
        table=resources.table,
        queue_url=resources.queue_url,
    )


@pytest.fixture
def start_runner(local_resources: LocalResources, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**env_overrides: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(local_resources.environment())
        env.update(
            {
                "AUTOSTACK_STAGE": "test",
                "AUTOSTACK_RUNNER_DB": str(tmp_path / "runner.db"),
                "AUTOSTACK_RUNNER_WORK_DIR": str(tmp_path / "work"),
                "AUTOSTACK_RUNNER_WAIT_S": "1",
                "AUTOSTACK_RUNNER_VISIBILITY_S": "2",
                "AUTOSTACK_RUNNER_LEASE_S": "2",
                "AUTOSTACK_RUNNER_HEARTBEAT_S": "0.5",
                "AUTOSTACK_RUNNER_TEST_JOB_DELAY_S": "3",
                "PYTHONPATH": "",  # `python -m runner` must find chalicelib by itself
            }
        )
        env.update(env_overrides)
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", "run"],
            cwd=ROOT / "ec2-runner",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"runner-{len(started)}.log", "wb"),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "from flask import Flask\napp = Flask(__name__)\n")
        archive.writestr("requirements.txt", "flask==3.0.3\n")
    return buffer.getvalue()


def test_kill_9_during_a_job_then_restart_completes_it_once(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    jobs = _jobs(local_resources)
    s3 = _client(local_resources, "s3")
    key = "uploads/proj1/up1.zip"
    s3.put_object(Bucket=local_resources.bucket, Key=key, Body=_small_zip())
    job = jobs.submit(
        project_id="proj1",
        kind="analyze",
        payload={"upload_id": "up1", "key": key},
        request_id="req-kill",
    )
    first = start_runner(AUTOSTACK_RUNNER_ID="runner-first")

    def running() -> JobRecord | None:
        record = jobs.get("proj1", job.job_id)
        return record if record and record.status == "running" else None

    wait_for(running, 20, "the first runner to claim the job", interval_s=0.1)

    def attempt_recorded() -> bool:
        conn = sqlite3.connect(tmp_path / "runner.db")
        try:
            return bool(
                conn.execute("SELECT 1 FROM attempts WHERE job_id = ?", (job.job_id,)).fetchall()
            )
        except sqlite3.OperationalError:  # the schema is not there yet
            return False
        finally:
            conn.close()

    wait_for(
        attempt_recorded, 10, "the first attempt in runner.db", interval_s=0.1
    )  # inside the job now
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    second = start_runner(AUTOSTACK_RUNNER_ID="runner-second")

    def finished() -> JobRecord | None:
        record = jobs.get("proj1", job.job_id)
        return record if record and record.is_terminal else None

    done = wait_for(finished, 30, "the job to finish after the restart", interval_s=0.1)
    assert done.status == "succeeded", done.error
    assert done.runner_id == "runner-second"
    assert done.attempts == 2
    assert done.summary is not None and done.summary["primary_language"] == "python"
    # One outcome: one report, the message is gone, nothing dead-lettered.
    reports = s3.list_objects_v2(Bucket=local_resources.bucket, Prefix="reports/proj1/")
    assert [o["Key"] for o in reports["Contents"]] == [f"reports/proj1/{job.job_id}.json"]
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0
    sqs = _client(local_resources, "sqs")
    for queue in (local_resources.queue_url, local_resources.dlq_url):
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    conn = sqlite3.connect(tmp_path / "runner.db")
    outcomes = conn.execute(
        "SELECT runner_id, outcome FROM attempts WHERE job_id = ? ORDER BY id", (job.job_id,)
    ).fetchall()
    conn.close()
    assert outcomes == [("runner-first", "abandoned"), ("runner-second", "succeeded")]


def test_sigterm_idle_leaves_the_long_poll_at_once_and_busy_finishes_the_job(
    local_resources: LocalResources, start_runner: Callable[..., Any], tmp_path: Path
) -> None:
    idle = start_runner(
        AUTOSTACK_RUNNER_WAIT_S="20", AUTOSTACK_RUNNER_ID="runner-idle", AUTOSTACK_LOG_LEVEL="DEBUG"
    )
    idle_log = tmp_path / "runner-0.log"  # start_runner's first process
    beats = _client(local_resources, "dynamodb")

    def heartbeat() -> Any:
        return beats.get_item(
            TableName=local_resources.table,
            Key={"pk": {"S": "RUNNERS"}, "sk": {"S": "RUNNER#runner-idle"}},
        ).get("Item")

    wait_for(heartbeat, 20, "the runner heartbeat", interval_s=0.1)
    # The runner logs "long poll" once it is polling (a signal then ends the poll at once).
    wait_for(lambda: b'"long poll"' in idle_log.read_bytes(), 20, "the long poll", interval_s=0.1)
    began = time.monotonic()
    idle.send_signal(signal.SIGTERM)
    assert idle.wait(timeout=10) == 0
    assert time.monotonic() - began < 5
    assert heartbeat()["state"]["S"] == "stopped"

    jobs = _jobs(local_resources)
    job = jobs.submit(project_id="system", kind="snapshot", payload={}, request_id=None)
    busy = start_runner(AUTOSTACK_RUNNER_ID="runner-busy")
    wait_for(
        lambda: (r := jobs.get("system", job.job_id)) is not None and r.status == "running",
        20,
        "the claim",
        interval_s=0.1,
    )
    busy.send_signal(signal.SIGTERM)
    assert busy.wait(timeout=20) == 0
    done = jobs.get("system", job.job_id)
    assert done is not None and done.status == "succeeded" and done.attempts == 1


def test_restore_command_swaps_in_the_newest_snapshot(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    from runner.backup import take_snapshot
    from runner.ledger import Ledger

    ledger = Ledger(tmp_path / "source.db")
    ledger.record_dead_letter(message_id="m1", job_id="j1", project_id="p", seen_at=1.0, reason="r")
    take_snapshot(ledger, _client(local_resources, "s3"), local_resources.bucket, work_dir=tmp_path)
    ledger.close()
    target = tmp_path / "state" / "runner.db"
    env = dict(os.environ, **local_resources.environment())
    env.update({"AUTOSTACK_STAGE": "test", "AUTOSTACK_RUNNER_DB": str(target), "PYTHONPATH": ""})

    def restore(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", "restore", *args],
            cwd=ROOT / "ec2-runner",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = restore()
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT job_id FROM dead_letters").fetchall() == [("j1",)]
    conn.close()
    missing = restore("--date", "1999-01-01")
    assert missing.returncode == 1
    assert "no runner snapshot taken on 1999-01-01" in missing.stderr

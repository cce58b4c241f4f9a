"""Shared pieces of the runner's functional tests: settings on the emulator, clients, jobs.

Imported by the test modules of this folder (not a conftest, so that module names
stay unique across the suite).
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3

from chalicelib.models.profile import App, Framework, Languages, Port, Service, StackProfile
from chalicelib.services.jobs import JobService
from devtools.local_resources import LocalResources
from runner.clients import RunnerClients
from runner.ledger import Ledger
from runner.settings import RunnerSettings
from runner.worker import Worker


def runner_settings(resources: LocalResources, tmp_path: Path, **overrides: Any) -> RunnerSettings:
    env = resources.environment()
    settings = RunnerSettings(
        stage="test",
        table=env["AUTOSTACK_TABLE"],
        bucket=env["AUTOSTACK_BUCKET"],
        queue_url=env["AUTOSTACK_QUEUE_URL"],
        dlq_url=env["AUTOSTACK_DLQ_URL"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        runner_id="runner-test-" + secrets.token_hex(3),
        runner_db=tmp_path / "runner.db",
        work_dir=tmp_path / "work",
        wait_time_s=1,
        visibility_timeout_s=2,
        lease_s=2,
        heartbeat_interval_s=0.4,
        backoff_base_s=0.1,
        backoff_cap_s=0.5,
    )
    return replace(settings, **overrides)


def client(resources: LocalResources, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def clients_for(resources: LocalResources) -> RunnerClients:
    return RunnerClients(
        s3=client(resources, "s3"),
        sqs=client(resources, "sqs"),
        dynamodb=client(resources, "dynamodb"),
    )


def job_service(resources: LocalResources) -> JobService:
    return JobService(
        dynamodb=client(resources, "dynamodb"),
        sqs=client(resources, "sqs"),
        table=resources.table,
        queue_url=resources.queue_url,
    )


def small_zip(files: dict[str, str] | None = None) -> bytes:
    files = files or {
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "requirements.txt": "flask==3.0.0\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def put_upload(resources: LocalResources, project_id: str, body: bytes) -> tuple[str, str]:
    upload_id = secrets.token_urlsafe(8)
    key = f"uploads/{project_id}/{upload_id}.zip"
    client(resources, "s3").put_object(Bucket=resources.bucket, Key=key, Body=body)
    return upload_id, key


class FakeRefusedError(Exception):
    """Stands in for runner.analysis.ArchiveRefusedError in worker tests."""


class ZipAnalyzer:
    """A small analyzer fake: reads the zip's names; counts its calls (at-most-once checks)."""

    def __init__(self, fail_with: list[BaseException] | None = None, on_call: Any = None):
        self.calls: list[Path] = []
        self._fail_with = list(fail_with or [])
        self._on_call = on_call

    def __call__(self, path: Path) -> StackProfile:
        self.calls.append(path)
        if self._on_call is not None:
            self._on_call()
        if self._fail_with:
            raise self._fail_with.pop(0)
        try:
            names = zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as exc:
            raise FakeRefusedError(f"{path.name} is not a zip archive") from exc
        python = any(name.endswith(".py") for name in names)
        return StackProfile(
            languages=Languages(primary="python" if python else None),
            apps=[
                App(
                    path=".",
                    name="app",
                    language="python",
                    kind="web",
                    framework=Framework(name="flask"),
                    port=Port(value=5000, source="framework_default"),
                )
            ]
            if python
            else [],
            services=[Service(kind="postgres")],
        )


def make_worker(
    settings: RunnerSettings,
    resources: LocalResources,
    analyzer: ZipAnalyzer | None = None,
    **kwargs: Any,
) -> Worker:
    services = {"analyzer": analyzer or ZipAnalyzer(), "refused_errors": (FakeRefusedError,)}
    return Worker(
        settings,
        clients_for(resources),
        Ledger(settings.runner_db),
        services=services,
        **kwargs,
    )


def receive_all(resources: LocalResources, queue_url: str) -> list[dict[str, Any]]:
    sqs = client(resources, "sqs")
    found: list[dict[str, Any]] = []
    for _ in range(3):
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
        )
        found.extend(response.get("Messages", []))
        if found:
            break
    return found


def message_body(job_id: str, project_id: str, kind: str = "analyze", **payload: Any) -> str:
    return json.dumps(
        {
            "schema_version": 1,
            "job_id": job_id,
            "project_id": project_id,
            "kind": kind,
            "request_id": "req-1",
            "payload": payload,
        }
    )

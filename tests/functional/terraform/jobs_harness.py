"""A real ``JobContext`` for the Terraform job handlers (emulator S3 and DynamoDB, SQLite)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chalicelib.models.jobs import JobMessage, JobRecord
from devtools.local_resources import REGION, LocalResources
from runner.clients import RunnerClients
from runner.jobs.context import JobContext, JobLogSink, ProgressReporter, StopSignal
from runner.jobs.terraform_jobs import TerraformServices
from runner.ledger import Ledger
from runner.semaphore import TerraformSemaphore
from runner.settings import RunnerSettings
from tests.functional.terraform.harness import ROLE_ARN, TerraformHarness, make_harness

EXTERNAL_ID = "ext-7f3a9c1d2e"
_job_ids = itertools.count(1)


class WatchedLogSink(JobLogSink):
    """The real log sink, plus a hook called with every line (e.g. to cancel at a point)."""

    def __init__(self, on_line: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_line = on_line
        self.all_lines: list[str] = []

    def write(self, line: str) -> None:
        super().write(line)
        self.all_lines.append(line)
        if self.on_line is not None:
            self.on_line(line)


@dataclass
class JobsHarness:
    tf: TerraformHarness
    settings: RunnerSettings
    clients: RunnerClients
    ledger: Ledger
    progress: list[tuple[int, str | None]] = field(default_factory=list)

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=self.tf.resources.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def semaphore(self, runner_id: str | None = None) -> TerraformSemaphore:
        return TerraformSemaphore(
            self.clients.dynamodb,
            self.settings.table,
            runner_id or self.settings.runner_id,
            slots=2,
            lease_s=self.settings.lease_s,
        )

    def upload_bundle(
        self, bundle_id: str, files: dict[str, str], project_id: str = "proj1"
    ) -> None:
        for rel, text in files.items():
            self.clients.s3.put_object(
                Bucket=self.settings.bucket,
                Key=f"bundles/{project_id}/{bundle_id}/{rel}",
                Body=text.encode(),
            )

    def payload(self, **overrides: Any) -> dict[str, Any]:
        base = {
            "deployment_id": "dep1",
            "bundle_id": "b1",
            "role_arn": ROLE_ARN,
            "external_id": EXTERNAL_ID,
            "region": REGION,
        }
        return base | overrides

    def context(
        self,
        kind: str,
        payload: dict[str, Any],
        on_line: Callable[[str], None] | None = None,
        project_id: str = "proj1",
    ) -> JobContext:
        job_id = f"job{next(_job_ids)}"
        message = JobMessage(job_id=job_id, project_id=project_id, kind=kind, payload=payload)  # type: ignore[arg-type]
        record = JobRecord(job_id=job_id, project_id=project_id, kind=kind, status="running")  # type: ignore[arg-type]
        sink = WatchedLogSink(
            on_line=on_line,
            s3=self.clients.s3,
            bucket=self.settings.bucket,
            project_id=project_id,
            job_id=job_id,
            attempt=1,
            ledger=self.ledger,
        )
        return JobContext(
            message=message,
            job=record,
            settings=self.settings,
            clients=self.clients,
            ledger=self.ledger,
            progress=ProgressReporter(
                lambda pct, text: self.progress.append((pct, text)), min_interval_s=0
            ),
            log=sink,
            stop=StopSignal(),
            attempt=1,
            receive_count=1,
            services={
                "terraform": TerraformServices(
                    runner=self.tf.runner, semaphore=self.semaphore(), sessions=self.tf.sessions
                ),
                # The runner's own STS (its credentials): a release reads the app config
                # through a deploy-role session (runner.shipping.app_config).
                "app_config_sts": self.client("sts"),
            },
        )

    def log_text(self, ctx: JobContext) -> str:
        """What the job shipped to S3 (all parts)."""
        ctx.log.flush()
        parts = []
        for key in ctx.log.keys:
            parts.append(
                self.clients.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"]
                .read()
                .decode()
            )
        return "".join(parts)


def make_jobs_harness(
    local_resources: LocalResources, tmp_path: Path, allow_provisioners: bool = True
) -> JobsHarness:
    tf = make_harness(local_resources, tmp_path, allow_provisioners=allow_provisioners)
    settings = RunnerSettings(
        stage="test",
        table=local_resources.table,
        bucket=local_resources.bucket,
        queue_url=local_resources.queue_url,
        dlq_url=local_resources.dlq_url,
        endpoint_url=local_resources.endpoint_url,
        region=REGION,
        runner_id="runner-a",
        runner_db=tmp_path / "runner.db",
        work_dir=tmp_path / "work",
        heartbeat_interval_s=1.0,
        lease_s=30,
    )
    harness = JobsHarness(
        tf=tf, settings=settings, clients=None, ledger=Ledger(tmp_path / "runner.db")
    )  # type: ignore[arg-type]
    harness.clients = RunnerClients(
        s3=harness.client("s3"), sqs=harness.client("sqs"), dynamodb=harness.client("dynamodb")
    )
    return harness

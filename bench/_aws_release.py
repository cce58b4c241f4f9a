"""What the AWS release benchmarks share: a `release` job run in the benchmark's process
against the emulator, as the runner runs it (its clients and settings, the AWS executors
through the emulator's STS and the deploy role), timed with the executors' own waits taken
out: what is left is AutoStack's overhead around the build and the release."""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

from chalicelib import keys
from chalicelib.models.jobs import JobMessage, JobRecord
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.codec import to_item
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION, create_local_resources
from runner.clients import RunnerClients
from runner.job_session import JobSessionIssuer
from runner.jobs.context import JobContext, JobLogSink, ProgressReporter, StopSignal
from runner.jobs.release import ShippingServices, handle
from runner.ledger import Ledger
from runner.local_runtime import http_probe
from runner.settings import RunnerSettings
from runner.shipping.aws_access import AwsExecutorFactory, DeployRoleClients, ExecutorRequest
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import PROJECT, client

TARGET_S = 3.0
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
EXTERNAL_ID = "ext-bench1"


class ReleaseBench:
    """The runner's side of a release against the emulator at ``url``. ``clients`` and
    ``settings`` are what the user-stack seeders read."""

    def __init__(self, url: str, work: Path) -> None:
        self.url = url
        self.slept = 0.0
        resources = create_local_resources(url)
        self.clients = RunnerClients(
            s3=client(url, "s3"),
            sqs=client(url, "sqs"),
            dynamodb=client(url, "dynamodb"),
        )
        self.settings = RunnerSettings(
            stage="test", table=resources.table, bucket=resources.bucket,
            queue_url=resources.queue_url, dlq_url=resources.dlq_url, endpoint_url=url,
            region=REGION, runner_id="bench-runner", runner_db=work / "runner.db",
            work_dir=work / "work", heartbeat_interval_s=1.0, lease_s=600,
        )  # fmt: skip
        factory = AwsExecutorFactory(
            clients_for=DeployRoleClients(
                issuer=JobSessionIssuer(client(url, "sts"), resources.session_role_arn),
                bucket=resources.bucket, stage="test", endpoint_url=url,
            ),
            settings=ShippingSettings(executor="aws", poll_interval_s=0.2, wait_timeout_s=60),
        )  # fmt: skip

        def make_executor(request: ExecutorRequest) -> Any:
            return factory(dataclasses.replace(request, sleep=self._sleep))

        dynamodb, table = self.clients.dynamodb, self.settings.table
        self.shipping = ShippingServices(
            executor=None,
            make_executor=make_executor,
            check=HealthCheck(probe=http_probe, clock=time.time, sleep=self._sleep, timeout_s=15),
            releases=DynamoReleaseStore(dynamodb, table),
            bundles=DynamoBundleStore(dynamodb, table),
            jobs=DynamoJobStore(dynamodb, table),
        )
        self.ledger = Ledger(work / "runner.db")

    def _sleep(self, seconds: float) -> None:
        self.slept += seconds
        time.sleep(seconds)

    def release(self, job_id: str, **payload_extra: str) -> tuple[float, float]:
        """One release job of stack ``dep1`` to ``live``: (wall seconds, seconds slept)."""
        settings, dynamodb = self.settings, self.clients.dynamodb
        payload = {"stack": "dep1", "bundle_id": "b1", "role_arn": ROLE_ARN,
                   "external_id": EXTERNAL_ID, "region": REGION, **payload_extra}  # fmt: skip
        item = {"pk": keys.project_pk(PROJECT), "sk": keys.job_sk(job_id), "job_id": job_id,
                "project_id": PROJECT, "kind": "release", "status": "running",
                "payload": payload, "runner_id": settings.runner_id,
                "lease_until": time.time() + 600, "created_at_epoch": time.time()}  # fmt: skip
        dynamodb.put_item(TableName=settings.table, Item=to_item(item))
        ctx = JobContext(
            message=JobMessage(job_id=job_id, project_id=PROJECT, kind="release", payload=payload),
            job=JobRecord(job_id=job_id, project_id=PROJECT, kind="release", status="running"),
            settings=settings,
            clients=self.clients,
            ledger=self.ledger,
            progress=ProgressReporter(lambda pct, text: None, min_interval_s=0),
            log=JobLogSink(
                s3=self.clients.s3,
                bucket=settings.bucket,
                project_id=PROJECT,
                job_id=job_id,
                attempt=1,
                ledger=self.ledger,
            ),
            stop=StopSignal(),
            attempt=1,
            receive_count=1,
            services={
                "shipping": self.shipping,
                "app_config_sts": client(self.url, "sts"),
            },
        )
        self.slept = 0.0
        began = time.perf_counter()
        result = handle(ctx)
        ctx.log.flush()
        total = time.perf_counter() - began
        assert result.attributes["phase"] == "live", result
        return total, self.slept


def overhead_figures(totals: list[float], sleeps: list[float]) -> dict[str, Any]:
    """The JSON fields every release benchmark prints: wall, slept, overhead vs the target."""
    overheads = [t - s for t, s in zip(totals, sleeps, strict=True)]
    return {
        "release_wall_s": [round(t, 3) for t in totals],
        "slept_s": [round(s, 3) for s in sleeps],
        "overhead_s": [round(o, 3) for o in overheads],
        "overhead_median_s": round(statistics.median(overheads), 3),
        "overhead_max_s": round(max(overheads), 3),
        "target_s": TARGET_S,
        "within_target": max(overheads) <= TARGET_S,
    }

"""Benchmark: AutoStack's overhead around an AWS release (ECS), against the emulator.

    .venv/bin/python -m bench.bench_aws_release_overhead

The runner's release path (``runner.jobs.release`` with ``AUTOSTACK_RELEASE_EXECUTOR=aws``
pieces: the job's scoped session and the deploy role from the emulator's STS, the
source zipped and uploaded, CodeBuild started and followed, the release task run and
waited for, a new task definition and the service update, the health check of a
loopback server standing in for the app) runs RUNS times on one ECS stack. Time spent
sleeping between polls stands for AWS doing the work (the build, the task, the
roll-out) and is taken out: ``overhead_s`` = wall time - slept time, i.e. AutoStack's
own work plus the API calls (here answered by the emulator on loopback; in AWS each
costs tens of milliseconds more). Target: <= 3 s per release. Prints one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

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
from runner.shipping.aws_access import (
    AwsExecutorFactory,
    DeployRoleClients,
    ExecutorRequest,
)
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import (
    PROJECT,
    health_server,
    make_user_stack,
    seed,
)
from tests.support.emulator import moto_server

RUNS = int(__import__("os").environ.get("BENCH_RUNS", "3"))
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
EXTERNAL_ID = "ext-bench1"


def _client(name: str, url: str) -> Any:
    return boto3.client(
        name, endpoint_url=url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 (emulator)
    )  # fmt: skip


@dataclasses.dataclass
class _Harness:  # what aws_user_stack.seed reads
    clients: RunnerClients
    settings: RunnerSettings


def main() -> None:
    slept = {"s": 0.0}

    def sleep(seconds: float) -> None:
        slept["s"] += seconds
        time.sleep(seconds)

    with (
        moto_server() as url,
        tempfile.TemporaryDirectory(prefix="bench-aws-release-") as tmp,
        health_server(200) as app,
    ):
        resources = create_local_resources(url)
        work = Path(tmp)
        clients = RunnerClients(
            s3=_client("s3", url), sqs=_client("sqs", url), dynamodb=_client("dynamodb", url)
        )
        settings = RunnerSettings(
            stage="test", table=resources.table, bucket=resources.bucket,
            queue_url=resources.queue_url, dlq_url=resources.dlq_url, endpoint_url=url,
            region=REGION, runner_id="bench-runner", runner_db=work / "runner.db",
            work_dir=work / "work", heartbeat_interval_s=1.0, lease_s=600,
        )  # fmt: skip
        stack = make_user_stack(url, "ecs-fargate", app.url)
        seed(_Harness(clients, settings), stack)
        factory = AwsExecutorFactory(
            clients_for=DeployRoleClients(
                issuer=JobSessionIssuer(_client("sts", url), resources.session_role_arn),
                bucket=resources.bucket, stage="test", endpoint_url=url,
            ),
            settings=ShippingSettings(executor="aws", poll_interval_s=0.2, wait_timeout_s=60),
        )  # fmt: skip

        def make_executor(request: ExecutorRequest) -> Any:
            return factory(dataclasses.replace(request, sleep=sleep))

        dynamodb, table = clients.dynamodb, settings.table
        shipping = ShippingServices(
            executor=None,
            make_executor=make_executor,
            check=HealthCheck(probe=http_probe, clock=time.time, sleep=sleep, timeout_s=15),
            releases=DynamoReleaseStore(dynamodb, table),
            bundles=DynamoBundleStore(dynamodb, table),
            jobs=DynamoJobStore(dynamodb, table),
        )
        ledger = Ledger(work / "runner.db")
        totals, sleeps = [], []
        for run in range(RUNS):
            job_id = f"rel{run}"
            payload = {"stack": "dep1", "bundle_id": "b1", "role_arn": ROLE_ARN,
                       "external_id": EXTERNAL_ID, "region": REGION}  # fmt: skip
            item = {"pk": keys.project_pk(PROJECT), "sk": keys.job_sk(job_id), "job_id": job_id,
                    "project_id": PROJECT, "kind": "release", "status": "running",
                    "payload": payload, "runner_id": settings.runner_id,
                    "lease_until": time.time() + 600, "created_at_epoch": time.time()}  # fmt: skip
            dynamodb.put_item(TableName=table, Item=to_item(item))
            ctx = JobContext(
                message=JobMessage(
                    job_id=job_id, project_id=PROJECT, kind="release", payload=payload
                ),
                job=JobRecord(job_id=job_id, project_id=PROJECT, kind="release", status="running"),
                settings=settings,
                clients=clients,
                ledger=ledger,
                progress=ProgressReporter(lambda pct, text: None, min_interval_s=0),
                log=JobLogSink(
                    s3=clients.s3,
                    bucket=settings.bucket,
                    project_id=PROJECT,
                    job_id=job_id,
                    attempt=1,
                    ledger=ledger,
                ),
                stop=StopSignal(),
                attempt=1,
                receive_count=1,
                services={"shipping": shipping, "app_config_sts": _client("sts", url)},
            )
            # The same source each run: the emulator's build pushes nothing, so each run builds.
            slept["s"] = 0.0
            began = time.perf_counter()
            result = handle(ctx)
            ctx.log.flush()
            totals.append(time.perf_counter() - began)
            sleeps.append(slept["s"])
            assert result.attributes["phase"] == "live", result
        builds = len(stack.builds())
    overheads = [t - s for t, s in zip(totals, sleeps, strict=True)]
    print(
        json.dumps(
            {
                "benchmark": "aws_release_overhead",
                "target": "ecs-fargate (emulator)",
                "runs": RUNS,
                "codebuild_builds": builds,
                "release_wall_s": [round(t, 3) for t in totals],
                "slept_s": [round(s, 3) for s in sleeps],
                "overhead_s": [round(o, 3) for o in overheads],
                "overhead_median_s": round(statistics.median(overheads), 3),
                "overhead_max_s": round(max(overheads), 3),
                "target_s": 3.0,
                "within_target": max(overheads) <= 3.0,
            }
        )
    )


if __name__ == "__main__":
    main()

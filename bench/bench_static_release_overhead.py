"""Benchmark: AutoStack's overhead around a static site's AWS release, against the emulator.

    .venv/bin/python -m bench.bench_static_release_overhead

The runner's release path with the static executor (``runner.shipping.aws_static``: the
job's scoped session and the deploy role from the emulator's STS, the source zipped and
uploaded, CodeBuild started and followed, the release's files checked, CloudFront's
origin path moved and waited for, ``/*`` invalidated and waited for, the health check of
a loopback server standing in for the cloudfront.net URL) runs RUNS times on one stack,
alternating two sources: the first two runs build, the later ones find their release
built and only switch (a rollback's path). Time slept between polls
stands for AWS's own work (the build, the distribution's deployment, the invalidation)
and is taken out: ``overhead_s`` = wall time - slept time. The peer is the ECS path's
benchmark (``bench.bench_aws_release_overhead``): the same target of <= 3 s per release.
Prints one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
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
from runner.shipping.aws_access import AwsExecutorFactory, DeployRoleClients, ExecutorRequest
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import health_server
from tests.functional.shipping.static_user_stack import (
    FIXTURE,
    PROJECT,
    StaticStack,
    built_site,
    seed_static,
    tag_of,
    zip_source,
)
from tests.support.emulator import moto_server

RUNS = int(os.environ.get("BENCH_RUNS", "4"))
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
EXTERNAL_ID = "ext-bench1"


def _client(name: str, url: str) -> Any:
    return boto3.client(
        name, endpoint_url=url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 (emulator)
    )  # fmt: skip


@dataclasses.dataclass
class _Harness:  # what seed_static reads
    clients: RunnerClients
    settings: RunnerSettings


def main() -> None:
    slept = {"s": 0.0}

    def sleep(seconds: float) -> None:
        slept["s"] += seconds
        time.sleep(seconds)

    with (
        moto_server() as url,
        tempfile.TemporaryDirectory(prefix="bench-static-release-") as tmp,
        health_server(200) as site,
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
        stack = StaticStack(url, site.url)
        changed = work / "changed"
        shutil.copytree(FIXTURE, changed)
        page = changed / "src" / "index.html"
        page.write_text(page.read_text().replace("Hello from", "Hello again from"))
        sources = {"up1": zip_source(FIXTURE), "up2": zip_source(changed)}
        seed_static(_Harness(clients, settings), stack, sources)
        # Stands in for CodeBuild's build + sync (moto runs no buildspec).
        for folder, archive in ((FIXTURE, sources["up1"]), (changed, sources["up2"])):
            stack.put_release(tag_of(archive), built_site(folder, work), marker=False)
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
                       "external_id": EXTERNAL_ID, "region": REGION,
                       "upload_id": "up1" if run % 2 == 0 else "up2"}  # fmt: skip
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
            slept["s"] = 0.0
            began = time.perf_counter()
            result = handle(ctx)
            ctx.log.flush()
            totals.append(time.perf_counter() - began)
            sleeps.append(slept["s"])
            assert result.attributes["phase"] == "live", result
        builds = len(stack.builds())
        invalidations = len(stack.invalidations())
    overheads = [t - s for t, s in zip(totals, sleeps, strict=True)]
    print(
        json.dumps(
            {
                "benchmark": "static_release_overhead",
                "target": "static (emulator)",
                "peer": "bench.bench_aws_release_overhead (ecs-fargate)",
                "runs": RUNS,
                "codebuild_builds": builds,
                "invalidations": invalidations,
                "release_wall_s": [round(t, 3) for t in totals],
                "slept_s": [round(s, 3) for s in sleeps],
                "overhead_s": [round(o, 3) for o in overheads],
                "overhead_median_s": round(statistics.median(overheads), 3),
                "overhead_max_s": round(max(overheads), 3),
                "target_s": 3.0,
                "within_target": max(overheads) <= 3.0,
                "load_1m": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Benchmark: AutoStack's overhead around the build and release of a local release.

    .venv/bin/python -m bench.bench_release_overhead

A moto server stands in for S3 and DynamoDB; the Flask fixture
(tests/fixtures/shipping/flask_hello) is shipped RUNS times by the runner's release
path (``runner.jobs.release``: download the source, hash, extract, release record,
phase and timing writes, the pipeline, the health check, stopping the previous
release) with the real local executor. The executor's ``build`` (fresh venv, pip
install, the app's start until healthy: the build itself) is timed apart;
``overhead_s`` = the release's wall time minus that. Target: <= 3 s per release.
Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3

from chalicelib import keys
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.jobs import JobMessage, JobRecord
from chalicelib.models.templates import TemplateRequest
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.codec import to_item
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.emulator import moto_server
from devtools.local_resources import REGION, create_local_resources
from runner.analysis.engine import analyze_directory
from runner.clients import RunnerClients
from runner.jobs.context import JobContext, JobLogSink, ProgressReporter, StopSignal
from runner.jobs.release import ShippingServices, handle
from runner.ledger import Ledger
from runner.local_runtime import LocalRuntime, SubprocessRunner, http_probe
from runner.settings import RunnerSettings
from runner.shipping.executor import Candidate, LogLine, ReleaseSpec
from runner.shipping.local import LocalApps, LocalExecutor
from runner.shipping.verify import HealthCheck

ROOT = Path(__file__).resolve().parents[1]

RUNS = 3
PROJECT = "bench"
FIXTURE = ROOT / "tests" / "fixtures" / "shipping" / "flask_hello"


class TimedExecutor(LocalExecutor):
    """The local executor, with the time spent in its build (the build itself) recorded."""

    build_s: float = 0.0

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        began = time.perf_counter()
        try:
            return super().build(spec, log)
        finally:
            self.build_s = time.perf_counter() - began


def _client(name: str, url: str) -> Any:
    return boto3.client(
        name, endpoint_url=url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 (emulator)
    )  # fmt: skip


def main() -> None:
    with moto_server() as url, tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
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
        s3, dynamodb, table, bucket = clients.s3, clients.dynamodb, settings.table, settings.bucket
        plans = build_app_plans(
            analyze_directory(FIXTURE), TemplateRequest(analysis_id="an1", target="ec2")
        )
        document = {"record": {"plans": [p.model_dump(mode="json") for p in plans]}}
        s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(PROJECT, "b1"),
                      Body=json.dumps(document).encode())  # fmt: skip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(p for p in FIXTURE.rglob("*") if p.is_file()):
                archive.write(path, path.relative_to(FIXTURE).as_posix())
        upload_key = keys.upload_key(PROJECT, "up1", "zip")
        s3.put_object(Bucket=bucket, Key=upload_key, Body=buffer.getvalue())
        DynamoBundleStore(dynamodb, table).put(PROJECT, "b1", {"analysis_id": "an1"})

        def put_job(job_id: str, kind: str, status: str, **extra: Any) -> None:
            item = {"pk": keys.project_pk(PROJECT), "sk": keys.job_sk(job_id),
                    "job_id": job_id, "project_id": PROJECT, "kind": kind, "status": status,
                    "created_at_epoch": time.time(), **extra}  # fmt: skip
            dynamodb.put_item(TableName=table, Item=to_item(item))

        put_job("an1", "analyze", "succeeded", payload={"upload_id": "up1", "key": upload_key})
        apps = LocalApps()
        runtime = LocalRuntime(runner=SubprocessRunner(), machine_env=dict(os.environ))
        executor = TimedExecutor(runtime=runtime, apps=apps)
        shipping = ShippingServices(
            executor=executor,
            check=HealthCheck(probe=http_probe, clock=time.time, sleep=time.sleep, timeout_s=15),
            releases=DynamoReleaseStore(dynamodb, table),
            bundles=DynamoBundleStore(dynamodb, table),
            jobs=DynamoJobStore(dynamodb, table),
        )
        ledger = Ledger(work / "runner.db")
        totals, builds = [], []
        try:
            for run in range(RUNS):
                job_id = f"rel{run}"
                payload = {"stack": "main", "bundle_id": "b1"}
                put_job(job_id, "release", "running", payload=payload,
                        runner_id=settings.runner_id, lease_until=time.time() + 600)  # fmt: skip
                ctx = JobContext(
                    message=JobMessage(
                        job_id=job_id, project_id=PROJECT, kind="release", payload=payload
                    ),
                    job=JobRecord(
                        job_id=job_id, project_id=PROJECT, kind="release", status="running"
                    ),
                    settings=settings,
                    clients=clients,
                    ledger=ledger,
                    progress=ProgressReporter(lambda pct, text: None, min_interval_s=0),
                    log=JobLogSink(
                        s3=s3,
                        bucket=bucket,
                        project_id=PROJECT,
                        job_id=job_id,
                        attempt=1,
                        ledger=ledger,
                    ),
                    stop=StopSignal(),
                    attempt=1,
                    receive_count=1,
                    services={"shipping": shipping},
                )
                began = time.perf_counter()
                result = handle(ctx)
                ctx.log.flush()
                totals.append(time.perf_counter() - began)
                builds.append(executor.build_s)
                assert result.attributes["phase"] == "live", result
        finally:
            apps.stop_all()
    overheads = [t - b for t, b in zip(totals, builds, strict=True)]
    print(
        json.dumps(
            {
                "benchmark": "release_overhead",
                "runs": RUNS,
                "release_wall_s": [round(t, 3) for t in totals],
                "build_s": [round(b, 3) for b in builds],
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

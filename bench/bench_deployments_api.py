"""Benchmark: the deployments pipeline's overhead around Terraform, through the API path.

    .venv/bin/python -m bench.bench_deployments_api

Starts the real local stack (moto server, `chalice local`, one runner), uploads a
bundle of Terraform's built-in resources through the API and, for each run, deploys
it (plan -> approve -> apply) while a client follows it with ``GET ...?wait=20``.

For each phase (plan job, apply job) it reports, from the job items and the client's
clock: pickup (job created -> claimed by the runner), the job's run time on the
runner (claim -> finish: workspace, init, Terraform, summary, upload), and notice
(finish -> the client's long poll answered). ``api_overhead_s`` = what the client
waited beyond the runner's run time (submit + pickup + notice). Also the median
latency of the routes a client polls. Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import statistics
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import requests

from devtools.emulator import free_port
from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]

RUNS = 3
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
BUNDLE = (
    "\n".join(f'resource "terraform_data" "r{i}" {{\n  input = "r{i}"\n}}\n' for i in range(10))
    + 'output "app_url" {\n  value = "https://example.test/${terraform_data.r0.id}"\n}\n'
)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _timed(http: requests.Session, method: str, url: str, **kwargs: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    response = http.request(method, url, timeout=60, **kwargs)
    elapsed = time.perf_counter() - began
    assert response.status_code < 300, (url, response.status_code, response.text)
    return elapsed, response.json() if response.content else None


def main() -> None:
    stack = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={"AUTOSTACK_SCRYPT_N": "4096", "AUTOSTACK_STATUS_RATE_LIMIT": "5000"},
        quiet=True,
    ).start()
    try:
        result = _run(stack)
    finally:
        stack.stop()
    print(json.dumps(result, indent=2))


def _run(stack: LocalStack) -> dict[str, Any]:
    url, http = stack.api_url, requests.Session()
    creds = {"email": "bench@example.com", "password": "correct horse battery"}
    http.post(f"{url}/auth/signup", json=creds, timeout=30)
    token = http.post(f"{url}/auth/login", json=creds, timeout=30).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    project = http.post(f"{url}/projects", json={"name": "bench"}, timeout=30).json()["id"]
    created = http.post(f"{url}/projects/{project}/bundles", json={}, timeout=30).json()
    upload = created["upload"]
    archive = {"file": ("b.zip", _zip({"main.tf": BUNDLE}))}
    requests.post(upload["url"], data=upload["fields"], files=archive, timeout=30)
    http.post(f"{url}/projects/{project}/bundles/{created['id']}/complete", timeout=30)
    assert stack.resources is not None
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy key
    )

    def job(job_id: str) -> dict[str, float]:
        item = ddb.get_item(
            TableName=stack.resources.table,  # type: ignore[union-attr]
            Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": f"JOB#{job_id}"}},
        )["Item"]
        return {
            k: float(item[k]["N"])
            for k in ("created_at_epoch", "started_at_epoch", "finished_at_epoch")
        }

    phases: dict[str, list[dict[str, float]]] = {"plan": [], "apply": []}
    submit_ms, poll_ms, log_ms = [], [], []
    for run in range(RUNS):
        body = {
            "bundle_id": created["id"],
            "role_arn": ROLE_ARN,
            "region": "us-east-1",
            "stack": f"s{run}",
        }
        began = time.time()
        elapsed, dep = _timed(http, "POST", f"{url}/projects/{project}/deployments", json=body)
        submit_ms.append(elapsed * 1000)
        path = f"{url}/projects/{project}/deployments/{dep['id']}"
        for phase, wanted in (("plan", "planned"), ("apply", "applied")):
            if phase == "apply":
                began = time.time()
                elapsed, dep = _timed(http, "POST", path + "/approve")
                submit_ms.append(elapsed * 1000)
            while dep["status"] != wanted:
                assert dep["status"] not in ("failed", "cancelled"), dep
                _, dep = _timed(http, "GET", path + "?wait=20")
            seen = time.time()
            times = job(dep["jobs"][0 if phase == "plan" else 1]["id"])
            run_s = times["finished_at_epoch"] - times["started_at_epoch"]
            phases[phase].append(
                {
                    "client_wait_s": seen - began,
                    "pickup_s": times["started_at_epoch"] - times["created_at_epoch"],
                    "runner_run_s": run_s,
                    "notice_s": seen - times["finished_at_epoch"],
                    "api_overhead_s": seen - began - run_s,
                }
            )
        for _ in range(5):
            elapsed, _ = _timed(http, "GET", path)
            poll_ms.append(elapsed * 1000)
            elapsed, _ = _timed(http, "GET", path + "/logs?after=0")
            log_ms.append(elapsed * 1000)

    def medians(rows: list[dict[str, float]]) -> dict[str, float]:
        return {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}

    return {
        "benchmark": "deployments_api",
        "runs": RUNS,
        "resources": 10,
        "plan": medians(phases["plan"]),
        "apply": medians(phases["apply"]),
        "submit_ms_median": round(statistics.median(submit_ms), 1),
        "get_deployment_ms_median": round(statistics.median(poll_ms), 1),
        "get_logs_ms_median": round(statistics.median(log_ms), 1),
    }


if __name__ == "__main__":
    main()

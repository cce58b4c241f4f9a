"""The runner asleep and awake: job pickup, two concurrent plans' memory, the monthly bill.

    .venv/bin/python -m bench.bench_runner_wake            # all three parts
    .venv/bin/python -m bench.bench_runner_wake --skip-memory

1. Pickup (local): a moto server with an EC2 instance standing for the runner's.
   - asleep: the instance is stopped and no runner runs. The job is queued through the
     API's JobService with its wake hook (chalicelib/services/runner_wake.py: one
     DescribeInstances, one StartInstances); the "boot" is simulated by starting the
     runner process (`python -m runner run`) as soon as the instance is pending. The
     runner stops the instance itself after AUTOSTACK_RUNNER_IDLE_STOP_S (2 s here) and
     leaves, so each round is a real stop -> start -> pickup -> idle stop cycle. In AWS
     add the instance's own boot (StartInstances to systemd starting the unit; the cost
     model assumes 60 s, cloud-init does not reinstall on later boots).
   - awake: the runner process runs; the pickup is its long poll's.
   Pickup = the job item's started_at_epoch - created_at_epoch.
2. Memory: two concurrent `terraform init` + `terraform plan -refresh=false` of a
   generated ecs-fargate bundle with the real AWS provider (/opt/tf-plugins, 5.100.0),
   through the runner's own TerraformRunner (sandboxed), against the emulator. Test-only
   changes to the bundle, written by this bench: the provider constraint relaxed to the
   mirror's 5.100.0 (the bundle asks for ~> 6.0) and an override file pointing every
   provider endpoint at the emulator. Peak memory is sampled every 0.2 s over the
   benchmark's child processes (Terraform, the provider plugins, bubblewrap): RSS summed
   and PSS summed (PSS shares the provider's text pages fairly, RSS counts them twice).
   Found on the way (runner/terraform.py, not this bench's): with the runner's CLI
   config (the mirror is also the plugin cache) init of the real provider fails with
   "cannot install existing provider directory ... to itself"; with the mirror alone
   init copies the 690 MB provider into the workspace, and inside the sandbox (64 MB
   file-size cap) the copy does not start. So the plans run unsandboxed by default
   (--sandboxed to try it); the memory is the same processes'.
3. The monthly bill after always-free allowances at both profiles (scripts/cost_report.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3

from bench._support import ROOT
from chalicelib.services.jobs import JobService
from chalicelib.services.runner_wake import RunnerWake
from devtools.emulator import moto_server
from devtools.local_resources import LocalResources, create_local_resources

T3_MICRO_BYTES = 1024**3
SWAP_BYTES = 2 * 1024**3
ROUNDS = 3


def _client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "from flask import Flask\napp = Flask(__name__)\n")
    return buffer.getvalue()


def _runner(
    resources: LocalResources, state: Path, **env_overrides: str
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **resources.environment())
    env.update(
        {
            "AUTOSTACK_STAGE": "local",
            "AUTOSTACK_RUNNER_DB": str(state / "runner.db"),
            "AUTOSTACK_RUNNER_WORK_DIR": str(state / "work"),
            "PYTHONPATH": "",
        }
    )
    env.update(env_overrides)
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "run"],
        cwd=ROOT / "ec2-runner",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _pickup_s(jobs: JobService, project: str, job_id: str, timeout_s: float = 60) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = jobs.get(project, job_id)
        if record is not None and record.started_at_epoch is not None:
            assert record.created_at_epoch is not None
            return record.started_at_epoch - record.created_at_epoch
        time.sleep(0.02)
    raise RuntimeError(f"job {job_id} was not picked up within {timeout_s} s")


def _instance_state(ec2: Any, instance_id: str) -> str:
    response = ec2.describe_instances(InstanceIds=[instance_id])
    return str(response["Reservations"][0]["Instances"][0]["State"]["Name"])


def pickup() -> dict[str, Any]:
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        resources = create_local_resources(url)
        ec2 = _client(url, "ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        instance_id = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro"
        )["Instances"][0]["InstanceId"]
        ec2.stop_instances(InstanceIds=[instance_id])
        s3 = _client(url, "s3")
        s3.put_object(Bucket=resources.bucket, Key="uploads/bench/u1.zip", Body=_zip())
        wake = RunnerWake(ec2, instance_id, cache={})
        jobs = JobService(
            dynamodb=_client(url, "dynamodb"),
            sqs=_client(url, "sqs"),
            table=resources.table,
            queue_url=resources.queue_url,
            on_enqueued=wake.ensure_awake,
        )
        payload = {"upload_id": "u1", "key": "uploads/bench/u1.zip"}

        asleep: list[float] = []
        start_calls: list[float] = []
        for _ in range(ROUNDS):
            while _instance_state(ec2, instance_id) != "stopped":
                time.sleep(0.1)  # the previous round's runner stops it
            wake = RunnerWake(ec2, instance_id, cache={})
            jobs._on_enqueued = wake.ensure_awake  # a fresh Lambda container each round
            began = time.perf_counter()
            job = jobs.submit(project_id="bench", kind="analyze", payload=payload, request_id=None)
            start_calls.append(time.perf_counter() - began)
            assert _instance_state(ec2, instance_id) in ("pending", "running")
            # The simulated boot: the instance is starting, systemd starts the runner.
            proc = _runner(
                resources,
                state,
                AUTOSTACK_RUNNER_INSTANCE_ID=instance_id,
                AUTOSTACK_RUNNER_IDLE_STOP_S="2",
                AUTOSTACK_RUNNER_WAIT_S="1",
            )
            asleep.append(_pickup_s(jobs, "bench", job.job_id))
            proc.wait(60)  # idle stop: StopInstances, then the runner leaves
        awake: list[float] = []
        jobs._on_enqueued = None
        ec2.start_instances(InstanceIds=[instance_id])
        proc = _runner(resources, state, AUTOSTACK_RUNNER_IDLE_STOP_S="0")
        try:
            time.sleep(3)  # up and inside its long poll
            for _ in range(ROUNDS * 3):
                job = jobs.submit(
                    project_id="bench", kind="analyze", payload=payload, request_id=None
                )
                awake.append(_pickup_s(jobs, "bench", job.job_id))
                time.sleep(0.3)
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "asleep_pickup_s_median": round(statistics.median(asleep), 3),
        "asleep_pickup_s": [round(x, 3) for x in asleep],
        "enqueue_with_start_call_s_median": round(statistics.median(start_calls), 3),
        "awake_pickup_s_median": round(statistics.median(awake), 3),
        "asleep_vs_awake_ratio": round(statistics.median(asleep) / statistics.median(awake), 1),
        "note": "asleep = StartInstances + runner process start (simulated boot) + claim; "
        "AWS adds the instance boot itself (~60 s assumed in the cost model)",
    }


# --- two concurrent plans ---------------------------------------------------------------------

ENDPOINT_SERVICES = [
    "acm",
    "apigateway",
    "cloudwatch",
    "cloudwatchlogs",
    "codebuild",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "kms",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "ssm",
    "sts",
]


def _override(url: str) -> str:
    """Test-only: every service of the bundle on the emulator (written by this bench)."""
    endpoints = "\n".join(f'    {name} = "{url}"' for name in ENDPOINT_SERVICES)
    return (
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_requesting_account_id  = true\n"
        "  s3_use_path_style           = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )


def _bundle(dest: Path, url: str) -> Path:
    from chalicelib.generate import generate_bundle
    from chalicelib.models.templates import TemplateRequest
    from tests.golden.stack_profiles import flask_postgres

    bundle = generate_bundle(
        flask_postgres(), TemplateRequest(analysis_id="bench", target="ecs-fargate")
    )
    for name, text in bundle.files.items():
        if name.startswith("infra/"):
            path = dest / name.removeprefix("infra/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if name == "infra/versions.tf":
                text = text.replace('version = "~> 6.0"', 'version = ">= 5.100.0"')
            path.write_text(text)
    (dest / "zz_emulator_override.tf").write_text(_override(url))
    return dest


def _tree_memory(root: Any, exclude: set[int]) -> tuple[int, int]:
    import psutil

    rss = pss = 0
    for child in root.children(recursive=True):
        if child.pid in exclude:
            continue
        try:
            info = child.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


def memory(sandboxed: bool) -> dict[str, Any]:
    import psutil

    from runner.masking import SecretMasker
    from runner.sandbox import Sandbox
    from runner.terraform import (
        CLI_CONFIG_FILE,
        RunContext,
        StateBackend,
        TerraformRunner,
        TerraformSettings,
        deployment_variables,
        state_key,
    )

    mirror = Path(os.environ.get("AUTOSTACK_TF_PLUGIN_DIR", "/opt/tf-plugins"))
    if not mirror.is_dir():
        return {"not_run": f"no provider mirror at {mirror}"}
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        resources = create_local_resources(url)
        environ = {
            "PATH": os.environ.get("PATH", os.defpath),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": url,  # the sandbox's egress gate lets the emulator through
        }
        runner = TerraformRunner(
            TerraformSettings(
                work_root=Path(tmp) / "tf", plugin_mirror_dir=mirror, command_timeout_s=600
            ),
            environ=environ,
            # Unsandboxed by default: inside the sandbox the copied provider does not start
            # (see the module doc); memory is the processes', with or without bubblewrap.
            sandbox=None if sandboxed else Sandbox(enabled=False),
        )
        # The runner's CLI config makes the mirror its plugin cache too, which Terraform
        # 1.15 refuses for a real provider ("cannot install existing provider directory
        # ... to itself"); here: the mirror alone (init copies the provider).
        (Path(tmp) / "tf" / CLI_CONFIG_FILE).write_text(
            "disable_checkpoint = true\nprovider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
        outcomes: dict[str, Any] = {}
        lines: dict[str, list[str]] = {}

        def one(name: str) -> None:
            source = _bundle(Path(tmp) / f"bundle-{name}", url)
            backend = StateBackend(resources.bucket, state_key("bench", name), "us-east-1", url)
            ws = runner.workspace(name, source, backend)
            lines[name] = []
            run = RunContext(
                on_line=lines[name].append,
                masker=SecretMasker(),
                variables=deployment_variables(
                    "arn:aws:iam::123456789012:role/deploy", "ext-bench", "us-east-1"
                ),
            )
            began = time.perf_counter()
            try:
                runner.init(ws, run)
                init_s = time.perf_counter() - began
                result = runner.run(
                    ws.path,
                    ["plan", "-input=false", "-no-color", "-refresh=false", "-lock=false"],
                    run,
                )
                outcomes[name] = {
                    "init_s": round(init_s, 1),
                    "plan_s": round(time.perf_counter() - began - init_s, 1),
                    "plan_exit_code": result.exit_code,
                    "plan_summary": next(
                        (line for line in lines[name] if line.startswith("Plan:")), None
                    ),
                    "plan_error": None if result.exit_code == 0 else result.error_message()[:900],
                }
            except Exception as exc:  # the measurement stands; say what failed
                outcomes[name] = {"error": str(exc)[-600:]}

        me = psutil.Process()
        # The emulator is a child too: only what starts from here on is Terraform's.
        emulator = {p.pid for p in me.children(recursive=True)}

        def measure(count: int) -> tuple[int, int, float]:
            peak_rss = peak_pss = 0
            threads = [
                threading.Thread(target=one, args=(f"plan{count}-{i}",)) for i in range(count)
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                rss, pss = _tree_memory(me, emulator)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
                time.sleep(0.2)
            return peak_rss, peak_pss, time.perf_counter() - began

        one_rss, one_pss, one_s = measure(1)
        peak_rss, peak_pss, elapsed = measure(2)
        shutil.rmtree(Path(tmp) / "tf", ignore_errors=True)
    mib = 1024 * 1024
    # What else lives on the instance beside the two plans: the OS and agents (~250 MiB on
    # AL2023 with the CloudWatch and SSM agents) and the runner itself (~90 MiB resident).
    base_mib = 250 + 90
    budget = T3_MICRO_BYTES / mib
    fits_ram = base_mib + peak_pss / mib <= budget
    fits_with_swap = base_mib + peak_pss / mib <= budget + SWAP_BYTES / mib
    return {
        "sandboxed": sandboxed,
        "plans": outcomes,
        "both_plans_s": round(elapsed, 1),
        "one_plan_alone": {
            "s": round(one_s, 1),
            "peak_rss_mib": round(one_rss / mib),
            "peak_pss_mib": round(one_pss / mib),
        },
        "two_vs_one_pss_ratio": round(peak_pss / one_pss, 2) if one_pss else None,
        "peak_rss_sum_mib": round(peak_rss / mib),
        "peak_pss_sum_mib": round(peak_pss / mib),
        "assumed_os_and_runner_mib": base_mib,
        "fits_1gib_ram": fits_ram,
        "fits_1gib_with_2gib_swap": fits_with_swap,
        "verdict": (
            "fits a t3.micro's 1 GiB in RAM"
            if fits_ram
            else "fits a t3.micro only with the 2 GiB swap file (slower plans when both peak)"
            if fits_with_swap
            else "does not fit a t3.micro: use t4g.small or serialise init"
        ),
    }


def bill() -> dict[str, Any]:
    from chalicelib.generate.pricing import load_prices
    from scripts.cost_report import GOAL_USD, PROFILES, floor, monthly_bill, read_shape

    prices, shape = load_prices(), read_shape()
    out: dict[str, Any] = {"goal_usd": GOAL_USD, "runner_idle_stop_s": shape.runner_idle_stop_s}
    for name, profile in PROFILES.items():
        result = monthly_bill(prices, shape, profile)
        out[name] = {
            "monthly_after_always_free_usd": result.monthly_free_tier_usd,
            "runner_hours": result.runner.hours if result.runner else None,
            "floor_usd": floor(prices, shape, profile)["monthly_usd"],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-pickup", action="store_true")
    parser.add_argument(
        "--sandboxed", action="store_true", help="plans inside the runner's bubblewrap sandbox"
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"benchmark": "runner_wake"}
    if not args.skip_pickup:
        report["pickup"] = pickup()
    if not args.skip_memory:
        report["two_concurrent_plans"] = memory(args.sandboxed)
    report["monthly_bill"] = bill()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

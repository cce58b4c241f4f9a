"""AutoStack's own monthly AWS bill at a load profile, item by item.

    .venv/bin/python scripts/cost_report.py            # a Markdown table
    .venv/bin/python scripts/cost_report.py --json     # one JSON object
    .venv/bin/python scripts/cost_report.py --profile working-hours

The runner's hours come from a model of the load (``runner_usage``): jobs a day times
their assumed durations, the idle tail it waits before stopping itself, and its boots.

Prices come from the project's one price table (chalicelib/generate/prices.json,
through ``load_prices()``, the same data the generated templates' estimates use).
The deployment's shape is read from the repository itself: the runner's instance
type and disk from infrastructure/variables.tf, the alarms and the CloudWatch
agent's metrics from infrastructure/*.tf, the Lambda's memory and X-Ray setting
from .chalice/config.json, and the number of API routes from app.py. Every usage
figure that is an assumption says so next to the number.

The default profile is the original design's: 10 users, 1,000 API requests an
hour, 50 analyses and 10 deployments a day. The original single-server design
cost $9.42 a month after the free tier.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

# chalicelib and runner come from the installed repository (`pip install -e .`, `make venv`).
from chalicelib.generate.pricing import PriceTable, load_prices
from chalicelib.models.templates import CostLine
from chalicelib.services.runner_wake import RUNNER_BOOT_ESTIMATE_S

REPO_ROOT = Path(__file__).resolve().parents[1]

ORIGINAL_DESIGN_USD = 9.42
GOAL_USD = 5.00  # issue 17: under half the original design, at the seed's full profile
KB = 1024
MB = 1024 * KB
GB = 1024 * MB


class CostReportError(RuntimeError):
    """The repository's files do not say what the report needs (names the file)."""


@dataclass(frozen=True)
class LoadProfile:
    """Who uses AutoStack and when. Requests and jobs arrive only in the active hours of
    the active days; the default is the seed's full load, around the clock."""

    users: int = 10
    api_requests_per_hour: float = 1000
    analyses_per_day: float = 50
    deployments_per_day: float = 10
    active_hours_per_day: float = 24
    active_days_per_month: float | None = None  # None: every day of the month
    name: str = "seed: 1,000 requests an hour around the clock"

    def active_days(self, hours_per_month: float) -> float:
        days = hours_per_month / 24
        return days if self.active_days_per_month is None else self.active_days_per_month

    def active_hours(self, hours_per_month: float) -> float:
        return self.active_days(hours_per_month) * self.active_hours_per_day


SEED_PROFILE = LoadProfile()
# Ten people on working days: 9 hours a day, 22 days a month, the same daily jobs, and
# the API busy at the seed's rate only while they work.
WORKING_HOURS_PROFILE = LoadProfile(
    active_hours_per_day=9,
    active_days_per_month=22,
    name="10 people, working hours (9 h x 22 days)",
)
PROFILES = {"seed": SEED_PROFILE, "working-hours": WORKING_HOURS_PROFILE}


@dataclass(frozen=True)
class DeploymentShape:
    """What the repository deploys (read from its files by ``read_shape``)."""

    instance_type: str
    root_volume_gb: float
    alarms: int
    agent_metrics: int
    lambda_memory_mb: int
    xray: bool
    api_routes: int
    emf_route_dimension: bool  # the API's EMF metrics carry a per-route dimension
    log_retention_days: float = 30  # the API's log groups (infrastructure/logs.tf)
    # The share of requests traced when infrastructure/ sets a fixed-rate sampling rule
    # with no reservoir; None: AWS's default rule (Assumptions.xray_sampled_share).
    xray_fixed_rate: float | None = None
    # The runner stops itself after this long with no job (AUTOSTACK_RUNNER_IDLE_STOP_S's
    # default in ec2-runner/runner/settings.py); 0: on all month.
    runner_idle_stop_s: float = 0
    # DynamoDB capacity mode: on demand, or provisioned (infrastructure/table.tf's
    # table_billing_mode) at these units (25 of each are always free).
    dynamodb_provisioned: bool = False
    dynamodb_wcu: float = 25
    dynamodb_rcu: float = 25
    # The API's front door: an HTTP API (infrastructure/api.tf, $1.00/M) or the REST API
    # Chalice creates ($3.50/M).
    api_http: bool = False
    # The dashboard reaches the API through its own CloudFront (/api/*): no preflights.
    dashboard_same_origin: bool = False
    # The HTTP API stage writes one access-log line a request (api.tf access_log_settings).
    api_access_logs: bool = False


@dataclass(frozen=True)
class Assumptions:
    """Usage figures the bill rests on that the profile does not give. Each is stated
    in the report; change one here and the bill follows."""

    lambda_avg_duration_ms: float = 150  # warm requests 20-60 ms, scrypt logins, init phases
    dynamodb_wru_per_request: float = 1.6  # rate-limit window write + 15% mutating (transactions)
    dynamodb_rru_per_request: float = 1.5  # a strongly consistent read or query of <= 4 KB
    runner_heartbeat_s: float = 30  # the runner's heartbeat item (RUNNERS / RUNNER#id)
    wru_per_analysis: float = 10  # claim, throttled progress, outcome, upload status
    wru_per_deployment: float = 80  # plan + apply jobs: leases, progress, semaphore slot
    table_gb: float = 0.05  # users, projects, a year of jobs
    upload_avg_mb: float = 3  # archives are at most 10 MB
    uploads_kept_days: float = 30  # infrastructure/ lifecycle rule
    report_kb: float = 30
    bundle_kb: float = 100
    bundles_per_day: float = 20  # templates generated (more than deployed)
    bundle_files: float = 15  # objects per bundle
    analysis_log_kb: float = 10
    deployment_log_kb: float = 200  # Terraform output of plan + apply
    logs_kept_days: float = 90
    log_parts_per_terraform_job: float = 15  # log lines are shipped while Terraform runs
    runner_db_snapshot_mb: float = 5
    api_export_mb: float = 5
    api_exports_kept: float = 35
    state_writes_per_terraform_job: float = 7  # state object writes and lock files
    months_of_history: float = 6  # reports and bundles are kept: a year's average
    emf_route_active_share: float = 0.75  # routes publishing Requests + Latency in an hour
    emf_route_4xx_share: float = 0.25  # routes publishing Errors4xx in an hour
    xray_sampled_share: float = 0.95  # default rule: 1 request a second + 5% (at ~0.3 req/s)
    log_bytes_per_request: float = 1.75 * KB  # platform lines, 2 JSON log lines, one EMF doc
    response_kb: float = 3  # average API response body
    sqs_idle_poll_s: float = 20  # one long poll at a time
    dlq_sweep_s: float = 300
    # Runner hours when it sleeps while idle. Local measurements are far lower (an
    # analysis job 0.2 s, a plan of the generated ec2 bundle against the emulator a few
    # seconds); these are the AWS figures assumed until measured there.
    analysis_job_s: float = 20  # download, analyze, write the report
    plan_job_s: float = 90  # init with the real AWS provider, refresh, plan
    apply_job_s: float = 300  # most stacks; an RDS instance alone takes 5-10 min
    snapshot_job_s: float = 15
    # StartInstances to the first poll (AL2023, no reinstall): the estimate the API shows
    # while the runner starts (chalicelib/services/runner_wake.py, RUNNER_BOOT_ESTIMATE_S).
    runner_boot_s: float = RUNNER_BOOT_ESTIMATE_S
    access_log_bytes_per_request: float = 250  # api.tf's JSON access-log line


@dataclass
class Bill:
    profile: LoadProfile
    shape: DeploymentShape
    lines: list[CostLine]
    prices_as_of: str
    runner: RunnerUsage | None = None

    @property
    def monthly_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def monthly_free_tier_usd(self) -> float:
        return round(sum(line.monthly_free_tier_usd for line in self.lines), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": asdict(self.profile),
            "shape": asdict(self.shape),
            "prices_as_of": self.prices_as_of,
            "monthly_usd": self.monthly_usd,
            "monthly_after_always_free_usd": self.monthly_free_tier_usd,
            "original_design_usd": ORIGINAL_DESIGN_USD,
            "runner": asdict(self.runner) if self.runner else None,
            "lines": [line.model_dump() for line in self.lines],
        }


# --- reading the repository -------------------------------------------------------------


def _variable_default(variables_tf: str, name: str) -> str:
    block = re.search(rf'variable "{name}" \{{(.*?)\n\}}', variables_tf, re.S)
    if not block:
        raise CostReportError(f"infrastructure/variables.tf has no variable {name!r}")
    default = re.search(r"^\s*default\s*=\s*(.+)$", block.group(1), re.M)
    if not default:
        raise CostReportError(f"variable {name!r} has no default")
    return default.group(1).strip().strip('"')


def count_api_routes(repo_root: Path = REPO_ROOT) -> int:
    """Method + path pairs the API serves (each gets its own per-route EMF metrics)."""
    # app.py is the Lambda's handler file, not an installed module: load it by its path, once
    # (its blueprints register on import; a second copy of the app would register them twice).
    module = sys.modules.get("app")
    if module is None:
        spec = importlib.util.spec_from_file_location("app", repo_root / "app.py")
        if spec is None or spec.loader is None:
            raise CostReportError(f"{repo_root / 'app.py'}: not loadable")
        module = importlib.util.module_from_spec(spec)
        sys.modules["app"] = module
        spec.loader.exec_module(module)  # the API's import is light by design
    return sum(len(methods) for methods in module.app.routes.values())


def runner_idle_stop_default(repo_root: Path = REPO_ROOT) -> float:
    """AUTOSTACK_RUNNER_IDLE_STOP_S's default: the runner's own settings (ec2-runner/)."""
    from runner.settings import RunnerSettings

    default = RunnerSettings.__dataclass_fields__["idle_stop_s"].default
    if not isinstance(default, int | float):
        raise CostReportError("ec2-runner/runner/settings.py: idle_stop_s has no default")
    return float(default)


def _dashboard_routes_api(dashboard_tf: Path) -> bool:
    """dashboard.tf has a cache behaviour for the API's path prefix to the HTTP API."""
    text = dashboard_tf.read_text()
    behaviour = re.search(r"ordered_cache_behavior \{(.*?)\n  \}", text, re.S)
    return bool(
        behaviour and "var.api_stage_name" in behaviour.group(1) and "aws_apigatewayv2_api" in text
    )


def read_shape(repo_root: Path = REPO_ROOT, api_routes: int | None = None) -> DeploymentShape:
    infra = repo_root / "infrastructure"
    variables = (infra / "variables.tf").read_text()
    all_tf = "\n".join(p.read_text() for p in sorted(infra.glob("*.tf")))
    config = json.loads((repo_root / ".chalice" / "config.json").read_text())
    stage = config.get("stages", {}).get("prod", {})
    memory = stage.get("lambda_memory_size", config.get("lambda_memory_size", 128))
    xray = stage.get("xray", config.get("xray", False))
    # One custom metric per CloudWatch agent measurement (disk used_percent, mem ...).
    agent = re.search(r"cwagent_config = \{(.*?)\n  \}\n", all_tf, re.S)
    if not agent:
        raise CostReportError("infrastructure/runner.tf has no cwagent_config")
    agent_metrics = sum(
        len(re.findall(r'"[^"]+"', m))
        for m in re.findall(r"measurement\s*=\s*\[(.*?)\]", agent.group(1))
    )
    return DeploymentShape(
        instance_type=_variable_default(variables, "runner_instance_type"),
        log_retention_days=float(_variable_default(variables, "api_log_retention_days")),
        root_volume_gb=float(_variable_default(variables, "runner_root_volume_gb")),
        alarms=len(re.findall(r'^resource "aws_cloudwatch_metric_alarm"', all_tf, re.M)),
        agent_metrics=agent_metrics,
        lambda_memory_mb=int(memory),
        xray=bool(xray),
        api_routes=count_api_routes(repo_root) if api_routes is None else api_routes,
        xray_fixed_rate=(
            float(_variable_default(variables, "xray_sampling_rate"))
            if re.search(r'resource "aws_xray_sampling_rule"[^}]*reservoir_size\s*=\s*0\b', all_tf)
            else None
        ),
        runner_idle_stop_s=runner_idle_stop_default(repo_root),
        dynamodb_provisioned=_variable_default(variables, "table_billing_mode") == "PROVISIONED",
        dynamodb_wcu=float(_variable_default(variables, "table_write_capacity")),
        dynamodb_rcu=float(_variable_default(variables, "table_read_capacity")),
        api_http=bool(
            re.search(
                r'resource "aws_apigatewayv2_api" "\w+" \{(?:(?!\n\}).)*?'
                r'protocol_type\s*=\s*"HTTP"',
                all_tf,
                re.S,
            )
        ),
        dashboard_same_origin=_dashboard_routes_api(infra / "dashboard.tf"),
        api_access_logs=bool(
            re.search(r'resource "aws_apigatewayv2_stage"[\s\S]*?access_log_settings', all_tf)
        ),
        emf_route_dimension=bool(
            re.search(
                r"add_dimension\(\s*name=\"route\"",
                (repo_root / "chalicelib" / "observability.py").read_text(),
            )
        ),
    )


@dataclass(frozen=True)
class RunnerUsage:
    """The runner's awake hours a month, and what they are made of."""

    hours: float
    busy_hours: float  # running jobs
    idle_tail_hours: float  # waiting AUTOSTACK_RUNNER_IDLE_STOP_S after the last job
    boot_hours: float
    wakeups: float  # starts a month
    note: str


def runner_usage(
    profile: LoadProfile,
    shape: DeploymentShape,
    assume: Assumptions = Assumptions(),
    hours_per_month: float = 730,
) -> RunnerUsage:
    """Awake hours of a runner that stops after ``runner_idle_stop_s`` without a job.

    Jobs arrive as a Poisson process at rate ``lam`` (jobs an hour) during the active
    hours. The idle tail T after each job keeps the runner up: a moment of the active
    hours is awake-and-idle when a job arrived in the T before it (probability
    1 - exp(-lam T)), and a job finds the runner asleep with probability exp(-lam T)
    (then it pays a boot). The daily snapshot outside the active hours is one more wake
    with its own tail. Busy time is jobs x their assumed durations.
    """
    if shape.runner_idle_stop_s <= 0:
        return RunnerUsage(
            hours=hours_per_month,
            busy_hours=0,
            idle_tail_hours=hours_per_month,
            boot_hours=0,
            wakeups=0,
            note=f"on all month ({hours_per_month:g} h)",
        )
    tail_h = shape.runner_idle_stop_s / 3600
    active_days = profile.active_days(hours_per_month)
    all_days = hours_per_month / 24
    jobs_per_day = profile.analyses_per_day + 2 * profile.deployments_per_day
    busy_s_per_day = (
        profile.analyses_per_day * assume.analysis_job_s
        + profile.deployments_per_day * (assume.plan_job_s + assume.apply_job_s)
    )
    around_the_clock = profile.active_hours_per_day >= 24
    if around_the_clock:  # the snapshot is one more job among the others
        jobs_per_day += 1
        busy_s_per_day += assume.snapshot_job_s
    lam = jobs_per_day / profile.active_hours_per_day if jobs_per_day else 0.0
    asleep = math.exp(-lam * tail_h)
    wakeups = active_days * jobs_per_day * asleep
    busy = active_days * busy_s_per_day / 3600
    idle = active_days * profile.active_hours_per_day * (1 - asleep)
    if not around_the_clock:  # the nightly snapshot wakes it once a day, every day
        wakeups += all_days
        busy += all_days * assume.snapshot_job_s / 3600
        idle += all_days * tail_h
    boots = wakeups * assume.runner_boot_s / 3600
    hours = min(hours_per_month, busy + idle + boots)
    return RunnerUsage(
        hours=round(hours, 1),
        busy_hours=round(busy, 1),
        idle_tail_hours=round(idle, 1),
        boot_hours=round(boots, 1),
        wakeups=round(wakeups),
        note=(
            f"awake {hours:.0f} h: jobs {busy:.0f} h, idle tails of "
            f"{shape.runner_idle_stop_s / 60:g} min {idle:.0f} h, {wakeups:.0f} boots "
            f"{boots:.0f} h; stopped otherwise"
        ),
    )


# --- the bill ---------------------------------------------------------------------------


def monthly_bill(
    prices: PriceTable,
    shape: DeploymentShape,
    profile: LoadProfile = LoadProfile(),
    assume: Assumptions = Assumptions(),
) -> Bill:
    hours = prices.hours_per_month
    days = hours / 24
    requests = profile.api_requests_per_hour * profile.active_hours(hours)
    analyses = profile.analyses_per_day * profile.active_days(hours)
    deployments = profile.deployments_per_day * profile.active_days(hours)
    terraform_jobs = 2 * deployments  # plan, then apply
    runner = runner_usage(profile, shape, assume, hours)
    seconds = hours * 3600
    lines: list[CostLine] = []

    def add(resource: str, item: str, quantity: float, note: str) -> None:
        lines.append(prices.line(resource, item, quantity, note=note))

    # The runner.
    add(
        f"Runner EC2 {shape.instance_type}",
        f"ec2.{shape.instance_type}",
        runner.hours,
        runner.note + "; standard CPU credits, so no surplus-credit charges",
    )
    add(
        f"Runner root volume (gp3, {shape.root_volume_gb:g} GB, encrypted)",
        "ebs.gp3",
        shape.root_volume_gb,
        "OS, 2 GiB swap file, venv, Terraform provider cache and workspaces",
    )
    add(
        "Runner public IPv4 address",
        "vpc.public_ipv4",
        runner.hours,
        "the runner's way out to AWS APIs (no NAT gateway, no Elastic IP): billed only "
        "while the instance runs, released when it stops",
    )

    # The API.
    if shape.api_http:
        add(
            "API Gateway HTTP API (infrastructure/api.tf)",
            "apigateway.http.requests",
            requests / 1e6,
            f"{profile.api_requests_per_hour:g} requests an hour x "
            f"{profile.active_hours(hours):g} h; Chalice's REST API stays deployed, unused",
        )
    else:
        add(
            "API Gateway REST API (what Chalice creates)",
            "apigateway.rest.requests",
            requests / 1e6,
            f"{profile.api_requests_per_hour:g} requests an hour x "
            f"{profile.active_hours(hours):g} h",
        )
    invocations = requests + days  # + the daily backup schedule
    add(
        "Lambda requests",
        "lambda.requests",
        invocations / 1e6,
        "API requests + 1 scheduled backup a day",
    )
    gb_seconds = requests * assume.lambda_avg_duration_ms / 1000 * shape.lambda_memory_mb / 1024
    gb_seconds += days * 30 * shape.lambda_memory_mb / 1024  # the daily export: ~30 s
    add(
        f"Lambda compute ({shape.lambda_memory_mb} MB)",
        "lambda.duration",
        gb_seconds,
        f"assumed {assume.lambda_avg_duration_ms:g} ms a request on average",
    )

    # DynamoDB.
    heartbeats = runner.hours * 3600 / assume.runner_heartbeat_s  # only while awake
    wru = (
        requests * assume.dynamodb_wru_per_request
        + heartbeats
        + analyses * assume.wru_per_analysis
        + deployments * assume.wru_per_deployment
        + days * 5  # snapshot jobs
    )
    table_bytes = assume.table_gb * GB
    export_rru = days * table_bytes / (4 * KB)  # the daily export reads the whole table
    rru = requests * assume.dynamodb_rru_per_request + (analyses + terraform_jobs) * 3 + export_rru
    if shape.dynamodb_provisioned:
        add(
            f"DynamoDB write capacity (provisioned, {shape.dynamodb_wcu:g} WCU)",
            "dynamodb.provisioned.wcu",
            shape.dynamodb_wcu * hours,
            f"{wru / seconds:.2f} WRU/s on average against {shape.dynamodb_wcu:g} WCU; "
            "bursts use DynamoDB's burst capacity (300 s of unused capacity), above it a "
            "throttled call is the API's 503 unavailable",
        )
        add(
            f"DynamoDB read capacity (provisioned, {shape.dynamodb_rcu:g} RCU)",
            "dynamodb.provisioned.rcu",
            shape.dynamodb_rcu * hours,
            f"{rru / seconds:.2f} RRU/s on average against {shape.dynamodb_rcu:g} RCU; the "
            "daily export's scan is paced by them",
        )
    else:
        add(
            "DynamoDB writes (on demand)",
            "dynamodb.ondemand.write",
            wru / 1e6,
            f"assumed {assume.dynamodb_wru_per_request:g} WRU per API request (rate-limit "
            f"window, 15% mutating), runner heartbeat every {assume.runner_heartbeat_s:g} s "
            f"while awake, {assume.wru_per_analysis:g} per analysis, "
            f"{assume.wru_per_deployment:g} per deployment",
        )
        add(
            "DynamoDB reads (on demand)",
            "dynamodb.ondemand.read",
            rru / 1e6,
            f"assumed {assume.dynamodb_rru_per_request:g} RRU per API request; daily export "
            f"scans the table ({assume.table_gb:g} GB)",
        )
    add("DynamoDB storage", "dynamodb.storage", assume.table_gb, "assumed table size")
    add(
        "DynamoDB point-in-time recovery",
        "dynamodb.pitr",
        assume.table_gb,
        "billed on the table's size",
    )

    # S3.
    storage = {
        "uploads": analyses * assume.upload_avg_mb * MB * assume.uploads_kept_days / days,
        "reports": analyses * assume.report_kb * KB * assume.months_of_history,
        "bundles": profile.deployments_per_day
        * 2
        * days
        * assume.bundle_kb
        * KB
        * assume.months_of_history,
        "logs": (analyses * assume.analysis_log_kb + terraform_jobs / 2 * assume.deployment_log_kb)
        * KB
        * assume.logs_kept_days
        / days,
        "backups": (
            11 * assume.runner_db_snapshot_mb + assume.api_exports_kept * assume.api_export_mb
        )
        * MB
        * 2,  # versioning keeps deleted snapshots and exports 30 more days
    }
    add(
        "S3 storage (Standard)",
        "s3.standard.storage",
        sum(storage.values()) / GB,
        "uploads {uploads:.1f} GB (avg {avg:g} MB, kept {keep:g} d), reports+bundles "
        "{rb:.2f} GB, logs {logs:.2f} GB, backups {backups:.2f} GB".format(
            uploads=storage["uploads"] / GB,
            avg=assume.upload_avg_mb,
            keep=assume.uploads_kept_days,
            rb=(storage["reports"] + storage["bundles"]) / GB,
            logs=storage["logs"] / GB,
            backups=storage["backups"] / GB,
        ),
    )
    puts = (
        analyses * 2  # the upload (presigned POST) and its report
        + analyses  # one log part
        + terraform_jobs
        * (assume.log_parts_per_terraform_job + assume.state_writes_per_terraform_job)
        + deployments * 2  # the saved plan and its lock file
        + profile.analyses_per_day * 0  # (no other writes per analysis)
        + assume.bundles_per_day * days * assume.bundle_files
        + days * 3  # snapshot, export, retention listing
    )
    add(
        "S3 PUT/POST/LIST requests",
        "s3.requests.put",
        puts / 1000,
        "uploads, reports, logs, state, bundles",
    )
    gets = analyses * 4 + terraform_jobs * (assume.bundle_files / 2 + 3) + deployments * 2
    add(
        "S3 GET/HEAD requests",
        "s3.requests.get",
        gets / 1000,
        "archives, bundles, states, downloads",
    )

    # SQS.
    sqs = (
        runner.hours * 3600 / assume.sqs_idle_poll_s  # the runner polls only while awake
        + runner.hours * 3600 / assume.dlq_sweep_s
        + terraform_jobs * 12  # visibility renewals while Terraform runs (every 30 s)
        + (analyses + terraform_jobs + days) * 3  # send, receive, delete
    )
    add(
        "SQS requests",
        "sqs.standard.requests",
        sqs / 1e6,
        "one 20 s long poll at a time, DLQ sweep every 5 min",
    )

    # Observability.
    add(
        "CloudWatch alarms",
        "cloudwatch.alarms.standard",
        shape.alarms,
        "alarms.tf: CPU, disk, API p95 latency, DLQ not empty, jobs queue stalled",
    )
    if shape.emf_route_dimension:
        emf = shape.api_routes * (2 * assume.emf_route_active_share + assume.emf_route_4xx_share)
        emf_note = (
            f"~{emf:.0f} from the API's EMF metrics (Requests, Latency, Errors4xx with a `route` "
            f"dimension: {shape.api_routes} routes, prorated by the hours each is published)"
        )
    else:
        emf = 3 + 0.2  # Requests, Latency, Errors4xx every hour; Errors5xx now and then
        emf_note = f"~{emf:.0f} from the API's EMF metrics (one set for the whole API)"
    add(
        "CloudWatch custom metrics",
        "cloudwatch.metrics.custom",
        shape.agent_metrics + emf,
        f"{shape.agent_metrics} from the CloudWatch agent + {emf_note}",
    )
    log_bytes = assume.log_bytes_per_request
    if shape.api_access_logs:
        log_bytes += assume.access_log_bytes_per_request
    log_gb = requests * log_bytes / GB
    add(
        "CloudWatch Logs ingestion",
        "cloudwatch.logs.ingestion",
        log_gb,
        f"assumed {assume.log_bytes_per_request / KB:g} KB of Lambda log a request"
        + (
            f" + a {assume.access_log_bytes_per_request:g}-byte access-log line"
            if shape.api_access_logs
            else ""
        )
        + "; the runner logs to journald",
    )
    stored_gb = log_gb * shape.log_retention_days / days
    shared_free = prices.item("cloudwatch.logs.ingestion").free_tier
    lines.append(
        prices.line(
            "CloudWatch Logs storage",
            "cloudwatch.logs.storage",
            stored_gb,
            note=f"the API's log groups keep {shape.log_retention_days:g} days (logs.tf)",
            # one 5 GB allowance covers ingestion and storage together
            free_quantity=max(0.0, (shared_free.amount if shared_free else 0.0) - log_gb),
        )
    )
    if shape.xray:
        if shape.xray_fixed_rate is None:
            share = assume.xray_sampled_share
            how = f"default sampling records ~{share:.0%} of requests at this rate"
        else:
            share = shape.xray_fixed_rate
            how = f"the sampling rule in logs.tf traces {share:.0%} of requests"
        add(
            "X-Ray traces (Lambda active tracing)",
            "xray.traces.recorded",
            requests * share / 1e6,
            how,
        )
    responses_gb = requests * assume.response_kb * KB / GB
    add(
        "Data transfer out",
        "data_transfer.out",
        (0 if shape.dashboard_same_origin else responses_gb)
        + deployments * assume.bundle_kb * KB / GB,
        "bundle downloads"
        if shape.dashboard_same_origin
        else f"API responses (~{assume.response_kb:g} KB each) and bundle downloads",
    )
    add("SSM Parameter Store (JWT key)", "ssm.parameter.standard", 1, "one standard SecureString")
    lines.extend(dashboard_lines(prices, shape, profile, requests, responses_gb))
    return Bill(profile=profile, shape=shape, lines=lines, prices_as_of=prices.as_of, runner=runner)


# --- the dashboard (infrastructure/dashboard.tf) -----------------------------------------


@dataclass(frozen=True)
class DashboardAssumptions:
    """How the web dashboard is used; each figure is stated in its line's note."""

    page_loads_per_active_day: float = 40  # 10 people opening it about 4 times a day
    requests_per_load: float = 4  # index.html, config.json, the script and the style sheet
    kb_per_load: float = 22  # gzip: script 15 KB, style 1.5 KB, page and config ~1 KB
    origin_gets_per_load: float = 2  # index.html and config.json (1 s at the edge)
    # The page calls the API on another origin: a GET with a bearer token is preflighted
    # (OPTIONS, answered by API Gateway, not the Lambda) unless the browser cached the
    # answer for that URL (10 min). Assumed: half the API's requests come from the
    # dashboard and half of those need a preflight (log offsets change the URL).
    preflights_per_api_request: float = 0.25


def dashboard_lines(
    prices: PriceTable,
    shape: DeploymentShape,
    profile: LoadProfile,
    api_requests: float,
    api_responses_gb: float,
    assume: DashboardAssumptions = DashboardAssumptions(),
) -> list[CostLine]:
    """The dashboard's own lines: CloudFront (always free up to 1 TB and 10M requests a
    month; with the API behind it, its calls too), S3 GETs on the edge's misses, and the
    CORS preflights API Gateway answers when the API is on another origin."""
    loads = assume.page_loads_per_active_day * profile.active_days(prices.hours_per_month)
    through = shape.dashboard_same_origin  # the API's calls go through CloudFront /api/*
    lines = [
        prices.line(
            "Dashboard CloudFront requests (HTTPS)" + (" incl. /api/*" if through else ""),
            "cloudfront.https_requests",
            (loads * assume.requests_per_load + (api_requests if through else 0)) / 1e4,
            note=f"{loads:.0f} page loads x {assume.requests_per_load:g} files"
            + (" + every API call" if through else "")
            + "; 10M requests a month always free",
        ),
        prices.line(
            "Dashboard CloudFront data out" + (" incl. /api/*" if through else ""),
            "cloudfront.data_out",
            loads * assume.kb_per_load * KB / GB + (api_responses_gb if through else 0),
            note=f"~{assume.kb_per_load:g} KB a page load (gzip)"
            + (" + the API's responses" if through else "")
            + "; 1 TB a month always free",
        ),
        prices.line(
            "Dashboard S3 GETs (CloudFront misses)",
            "s3.requests.get",
            loads * assume.origin_gets_per_load / 1000,
            note="index.html and config.json are revalidated each load; hashed assets stay cached",
        ),
    ]
    if not through:
        lines.append(
            prices.line(
                "Dashboard CORS preflights (API Gateway requests)",
                "apigateway.http.requests" if shape.api_http else "apigateway.rest.requests",
                api_requests * assume.preflights_per_api_request / 1e6,
                note=f"assumed {assume.preflights_per_api_request:g} OPTIONS per API request "
                "(the dashboard is another origin than the API)",
            )
        )
    return lines


# --- what would lower it ---------------------------------------------------------------


def levers(
    prices: PriceTable, shape: DeploymentShape, profile: LoadProfile
) -> list[dict[str, Any]]:
    """The bill after always-free allowances with one change at a time, then all of them."""
    changes: dict[str, dict[str, Any]] = {
        "EMF metrics without the per-route dimension (one metric set for the API)": {
            "emf_route_dimension": False
        },
        'X-Ray active tracing off ("xray": false)': {"xray": False},
        "runner on t4g.micro (ARM; needs arm64 wheels of the runner's dependencies)": {
            "instance_type": "t4g.micro"
        },
        "runner idle stop after 10 min (issue 17's first default)": {"runner_idle_stop_s": 600},
        "runner idle stop after 2 min": {"runner_idle_stop_s": 120},
        "DynamoDB provisioned at the always-free 25 WCU / 25 RCU": {"dynamodb_provisioned": True},
        "HTTP API ($1.00/M) instead of Chalice's REST API ($3.50/M)": {"api_http": True},
        "dashboard calls the API through its CloudFront /api/* (no preflights)": {
            "dashboard_same_origin": True
        },
    }
    base = monthly_bill(prices, shape, profile).monthly_free_tier_usd
    rows: list[dict[str, Any]] = []
    combined: dict[str, Any] = {}
    for name, change in changes.items():
        if all(getattr(shape, key) == value for key, value in change.items()):
            continue  # already so
        after = monthly_bill(prices, replace(shape, **change), profile).monthly_free_tier_usd
        if after < base:  # a change that costs more (a longer idle tail) is shown, not combined
            combined.update(change)
        rows.append({"change": name, "monthly_usd": after, "saves_usd": round(base - after, 2)})
    if sum(1 for row in rows if row["saves_usd"] > 0) > 1:
        after = monthly_bill(prices, replace(shape, **combined), profile).monthly_free_tier_usd
        rows.append(
            {
                "change": "all of the above that save",
                "monthly_usd": after,
                "saves_usd": round(base - after, 2),
            }
        )
    return rows


# The design's floor: the runner awake only for its jobs and boots (an idle stop of
# ~0 s: every job pays a boot) and DynamoDB within the always-free provisioned units.
FLOOR_CHANGES: dict[str, Any] = {"runner_idle_stop_s": 1.0, "dynamodb_provisioned": True}


def floor(prices: PriceTable, shape: DeploymentShape, profile: LoadProfile) -> dict[str, Any]:
    """What cannot go lower in this design, and what it is made of."""
    bill = monthly_bill(prices, replace(shape, **FLOOR_CHANGES), profile)
    kept = sorted(
        (line for line in bill.lines if line.monthly_free_tier_usd >= 0.005),
        key=lambda line: -line.monthly_free_tier_usd,
    )
    return {
        "monthly_usd": bill.monthly_free_tier_usd,
        "runner_hours": bill.runner.hours if bill.runner else None,
        "items": {line.resource: round(line.monthly_free_tier_usd, 2) for line in kept},
        "assumes": "the runner stops as soon as it has nothing to do (every job waits for a "
        "boot) and DynamoDB is provisioned at the always-free 25 WCU / 25 RCU",
    }


def profiles(prices: PriceTable, shape: DeploymentShape) -> dict[str, float]:
    """The bill after always-free allowances at each named profile."""
    return {
        name: monthly_bill(prices, shape, profile).monthly_free_tier_usd
        for name, profile in PROFILES.items()
    }


# --- output -----------------------------------------------------------------------------


def markdown(
    bill: Bill,
    lever_rows: list[dict[str, Any]] | None = None,
    by_profile: dict[str, float] | None = None,
    floor_row: dict[str, Any] | None = None,
) -> str:
    rows = [
        "| item | quantity / month | list $ | after always-free $ | assumption |",
        "|---|---:|---:|---:|---|",
    ]
    for line in bill.lines:
        rows.append(
            f"| {line.resource} | {line.quantity:,.4g} {line.unit} | {line.monthly_usd:.2f} | "
            f"{line.monthly_free_tier_usd:.2f} | {line.note or ''} |"
        )
    rows.append(
        f"| **total** | | **{bill.monthly_usd:.2f}** | **{bill.monthly_free_tier_usd:.2f}** | |"
    )
    difference = bill.monthly_free_tier_usd - ORIGINAL_DESIGN_USD
    rows.append("")
    rows.append(
        f"Prices as of {bill.prices_as_of} (chalicelib/generate/prices.json). After the "
        f"always-free allowances: ${bill.monthly_free_tier_usd:.2f} a month, "
        f"{'+' if difference >= 0 else '-'}${abs(difference):.2f} against the original "
        f"design's ${ORIGINAL_DESIGN_USD:.2f}."
    )
    if lever_rows:
        rows += ["", "| change | after always-free $ | saves $ |", "|---|---:|---:|"]
        rows += [
            f"| {r['change']} | {r['monthly_usd']:.2f} | {r['saves_usd']:.2f} |" for r in lever_rows
        ]
    if by_profile:
        rows += ["", "| profile | after always-free $ |", "|---|---:|"]
        rows += [
            f"| {name} ({PROFILES[name].name}) | {usd:.2f} |" for name, usd in by_profile.items()
        ]
    if floor_row:
        items = ", ".join(f"{name} ${usd:.2f}" for name, usd in floor_row["items"].items())
        rows += [
            "",
            f"Floor of this design at this profile: ${floor_row['monthly_usd']:.2f} a month "
            f"(the runner awake {floor_row['runner_hours']:g} h) when {floor_row['assumes']}: "
            f"{items}. Goal: ${GOAL_USD:.2f}.",
        ]
    return "\n".join(rows)


DOC_BEGIN = (
    "<!-- cost_report.py: begin (generated: python scripts/cost_report.py "
    "--update-doc docs/deploy.md) -->"
)
DOC_END = "<!-- cost_report.py: end -->"


def doc_block(
    bill: Bill,
    lever_rows: list[dict[str, Any]],
    by_profile: dict[str, float] | None = None,
    floor_row: dict[str, Any] | None = None,
) -> str:
    """The generated part of docs/deploy.md: the bill, where it lands, the levers."""
    core = sum(
        line.monthly_free_tier_usd
        for line in bill.lines
        if line.item.startswith(("ec2.", "ebs.", "vpc.", "apigateway.", "dynamodb."))
    )
    summary = (
        f"As built ({bill.shape.api_routes} API routes, prices as of {bill.prices_as_of}), "
        f"AutoStack costs **${bill.monthly_free_tier_usd:.2f} a month after the always-free "
        f"allowances** (${bill.monthly_usd:.2f} at list price) against the original single "
        f"server's ${ORIGINAL_DESIGN_USD:.2f}. The core of the design (the runner, its disk "
        f"and address, API Gateway, DynamoDB) is ${core:.2f}."
    )
    return "\n".join(
        [DOC_BEGIN, markdown(bill, lever_rows, by_profile, floor_row), "", summary, DOC_END]
    )


def update_doc(path: Path, block: str) -> bool:
    """Replace the generated block of ``path``; True when the file changed."""
    text = path.read_text()
    if DOC_BEGIN not in text or DOC_END not in text:
        raise CostReportError(f"{path} has no cost_report.py markers")
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    new = head + block + tail
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="AutoStack's own monthly AWS bill.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--update-doc", type=Path, metavar="PATH", help="rewrite the generated block of PATH"
    )
    parser.add_argument(
        "--requests-per-hour", type=float, default=LoadProfile.api_requests_per_hour
    )
    parser.add_argument("--analyses-per-day", type=float, default=LoadProfile.analyses_per_day)
    parser.add_argument(
        "--deployments-per-day", type=float, default=LoadProfile.deployments_per_day
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="seed",
        help="seed: the load around the clock; working-hours: 10 people, 9 h x 22 days",
    )
    args = parser.parse_args(argv)
    profile = replace(
        PROFILES[args.profile],
        api_requests_per_hour=args.requests_per_hour,
        analyses_per_day=args.analyses_per_day,
        deployments_per_day=args.deployments_per_day,
    )
    try:
        prices, shape = load_prices(), read_shape()
        bill = monthly_bill(prices, shape, profile)
        lever_rows = levers(prices, shape, profile)
        by_profile = profiles(prices, shape)
        floor_row = floor(prices, shape, profile)
    except (CostReportError, OSError) as exc:
        print(f"cost_report: {exc}", file=sys.stderr)
        return 2
    if args.update_doc:
        try:
            changed = update_doc(
                args.update_doc, doc_block(bill, lever_rows, by_profile, floor_row)
            )
        except (CostReportError, OSError) as exc:
            print(f"cost_report: {exc}", file=sys.stderr)
            return 2
        print(f"{'updated' if changed else 'unchanged'} {args.update_doc}")
    elif args.json:
        print(
            json.dumps(
                {
                    **bill.to_json(),
                    "levers": lever_rows,
                    "profiles": by_profile,
                    "floor": floor_row,
                    "goal_usd": GOAL_USD,
                    "goal_met": bill.monthly_free_tier_usd <= GOAL_USD,
                },
                indent=2,
            )
        )
    else:
        print(markdown(bill, lever_rows, by_profile, floor_row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

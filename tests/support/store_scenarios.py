"""What every item store must do, written once: run on the in-memory fakes (unit tier) and
on DynamoDB through the emulator (functional tier), so the fake cannot drift from the real.

Each scenario takes a ``Stores`` (``chalicelib.store.registry``) over an empty table.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.store.deployments import StackTakenError
from chalicelib.store.jobs import LeaseLostError, is_queued, is_running, lease_expired
from chalicelib.store.registry import Stores
from chalicelib.store.semaphore import line_place

NOW = 1_800_000_000.0


def _job(stores: Stores, job_id: str = "j1", project_id: str = "p1") -> None:
    stores.jobs.create(
        {
            "job_id": job_id,
            "project_id": project_id,
            "kind": "plan",
            "status": "queued",
            "payload": {"stack": "main"},
            "progress": 0,
            "attempts": 0,
            "created_at_epoch": NOW,
        }
    )


def job_lifecycle(stores: Stores) -> None:
    jobs = stores.jobs
    _job(stores)
    with pytest.raises(ValueError, match="already exists"):
        _job(stores)
    claimed = jobs.claim("p1", "j1", "r1", NOW, 30)
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
    assert claimed.started_at_epoch == NOW and claimed.runner_id == "r1"
    assert jobs.claim("p1", "j1", "r2", NOW + 1, 30) is None  # a live lease elsewhere
    with pytest.raises(LeaseLostError):
        jobs.report_progress("p1", "j1", "r2", NOW + 1, 50, "not mine")
    jobs.report_progress("p1", "j1", "r1", NOW + 1, 40, "planning")
    jobs.note_terraform("p1", "j1", "r1", NOW + 2, phase="applying", resources=["a.b"])
    # The lease ran out: another runner takes over, the first start is kept.
    again = jobs.claim("p1", "j1", "r2", NOW + 40, 30)
    assert again is not None and again.attempts == 2 and again.started_at_epoch == NOW
    assert again.phase == "applying" and again.resources == ["a.b"]
    with pytest.raises(LeaseLostError):
        jobs.finish("p1", "j1", "r1", NOW + 41, "succeeded")
    done = jobs.finish("p1", "j1", "r2", NOW + 42, "succeeded", result={"outputs": {}})
    assert (done.status, done.progress, done.lease_until) == ("succeeded", 100, None)
    assert done.finished_at == "2027-01-15T08:00:42.000Z"  # one timestamp format
    assert jobs.fail_unfinished("p1", "j1", NOW + 43, "x", "y") is False  # finished stays
    assert [j.job_id for j in jobs.list_project("p1")] == ["j1"]
    assert jobs.get("p1", "missing") is None


def job_cancel(stores: Stores) -> None:
    jobs = stores.jobs
    _job(stores, "queued")
    _job(stores, "running")
    jobs.claim("p1", "running", "r1", NOW, 30)
    assert not jobs.cancel_if("p1", "running", is_queued(), NOW, "nope")
    assert jobs.cancel_if("p1", "queued", is_queued(), NOW, "dropped")
    cancelled = jobs.get("p1", "queued")
    assert cancelled is not None and cancelled.status == "cancelled"
    assert cancelled.error is not None and cancelled.error.message == "dropped"
    dead = is_running() & lease_expired(NOW - 60)
    assert not jobs.cancel_if("p1", "running", dead, NOW, "dead")  # its lease is live
    assert jobs.request_cancel("p1", "running", NOW)
    running = jobs.get("p1", "running")
    assert running is not None and running.cancel_requested and running.status == "running"
    assert not jobs.request_cancel("p1", "queued", NOW)  # not running
    assert jobs.fail_unfinished("p1", "running", NOW + 100, "dead_letter", "gone")


def semaphore_slots_and_line(stores: Stores) -> None:
    sem = stores.semaphore
    assert sem.take_slot(0, "a", "r1", NOW, NOW + 30, "tfstate/p/main.tfstate")
    assert sem.take_slot(1, "b", "r2", NOW, NOW + 30, None)
    assert not sem.take_slot(0, "c", "r2", NOW + 1, NOW + 31, None)  # held and live
    assert sem.take_slot(0, "a", "r1", NOW + 1, NOW + 31, None)  # its own holder again
    line = sem.line(NOW + 2, slots=2)
    assert sorted(h.job_id for h in line.holders) == ["a", "b"]
    held = next(h for h in line.holders if h.job_id == "b")
    assert sem.renew_slot(held, NOW + 60)
    assert not sem.free_slot(held.__class__(held.slot, "b", "r9", held.lease_until))
    sem.wait("w2", "r1", NOW + 5, NOW + 65)
    sem.wait("w1", "r1", NOW + 3, NOW + 63)
    sem.wait("w2", "r2", NOW + 9, NOW + 69)  # a refresh keeps its first `since`
    line = sem.line(NOW + 10, slots=2)
    assert line.waiters == ["w1", "w2"]
    assert line_place(line, "w2", 2).position == 2
    assert line_place(line, "new", 2).position == 3  # behind the known waiters
    assert sem.line(NOW + 64, slots=2).waiters == ["w2"]  # w1 stopped asking
    sem.leave("w2")
    assert sem.free_slot(held)
    after = sem.line(NOW + 70, slots=2)  # a's lease (NOW + 31) ran out; w1 stopped asking
    assert after.holders == [] and after.waiters == []
    assert line_place(after, "new", 2).position == 1
    assert sem.take_slot(0, "c", "r2", NOW + 70, NOW + 100, None)  # expired: takeable


def deployments_and_stacks(stores: Stores) -> None:
    deployments = stores.deployments

    def create(deployment_id: str, previous: str | None) -> None:
        deployments.create(
            {
                "deployment_id": deployment_id,
                "project_id": "p1",
                "stack": "main",
                "created_at": "t",
                "created_at_epoch": NOW,
            },
            previous,
        )

    create("d1", None)
    with pytest.raises(StackTakenError):
        create("d2", None)  # d1 got there first
    assert deployments.get("p1", "d2") is None  # nothing half-written
    assert deployments.stack_current("p1", "main") == "d1"
    create("d2", "d1")
    assert deployments.approve("p1", "d1", "main", "a1", NOW) == "superseded"
    assert deployments.approve("p1", "d2", "main", "a2", NOW) == "approved"
    assert deployments.approve("p1", "d2", "main", "a3", NOW) == "refused"
    approved = deployments.get("p1", "d2")
    assert approved is not None and approved["apply_job_id"] == "a2"
    assert not deployments.cancel_planned("p1", "d2", NOW)  # approved: too late
    assert deployments.cancel_planned("p1", "d1", NOW)
    assert [d["deployment_id"] for d in deployments.list_project("p1")] == ["d1", "d2"]


def pending_uploads(stores: Stores) -> None:
    uploads = stores.uploads
    uploads.put_pending("p1", "u1", {"upload_id": "u1", "status": "pending", "expires_at": 100})
    uploads.put_pending("p1", "u2", {"upload_id": "u2", "status": "pending", "size": None})
    with pytest.raises(ValueError, match="already exists"):
        uploads.put_pending("p1", "u2", {"upload_id": "u2", "status": "pending"})
    assert uploads.get_live("p1", "u1", now=101) is None  # expired: filtered in code
    assert [v["upload_id"] for v in uploads.list_live("p1", now=50)] == ["u1", "u2"]
    ready = uploads.settle("p1", "u1", "ready", {"size": 3})
    assert ready is not None and "expires_at" not in ready and ready["size"] == 3
    assert uploads.settle("p1", "u1", "rejected", {}) is None  # settled once
    assert stores.tf_bundles.list_live("p1", now=0) == []  # its own prefix


def bundles(stores: Stores) -> None:
    stores.bundles.put("p1", "b1", {"bundle_id": "b1", "target": "ecs"})
    with pytest.raises(ValueError, match="already exists"):
        stores.bundles.put("p1", "b1", {"bundle_id": "b1"})
    found = stores.bundles.get("p1", "b1")
    assert found is not None and found["target"] == "ecs"
    assert [b["bundle_id"] for b in stores.bundles.list_project("p1")] == ["b1"]


def runners(stores: Stores) -> None:
    stores.runners.put_heartbeat("r1", NOW, "1.0", "j1", "busy")
    (beat,) = stores.runners.heartbeats()
    assert (beat.runner_id, beat.at, beat.current_job) == ("r1", NOW, "j1")


SCENARIOS: list[Callable[[Stores], None]] = [
    job_lifecycle,
    job_cancel,
    semaphore_slots_and_line,
    deployments_and_stacks,
    pending_uploads,
    bundles,
    runners,
]

"""What every item store must do, written once: run on the in-memory fakes (unit tier) and
on DynamoDB through the emulator (functional tier), so the fake cannot drift from the real.

Each scenario takes a ``Stores`` (``chalicelib.store.registry``) over an empty table.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib import keys
from chalicelib.errors import EmailTakenError, LimitExceededError, NotFoundError
from chalicelib.store.deployments import StackTakenError
from chalicelib.store.jobs import LeaseLostError, is_queued, is_running, lease_expired
from chalicelib.store.records import ProjectRecord, RefreshTokenRecord, UserRecord
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
    stores.runners.ping()
    assert stores.runners.heartbeats() == []
    stores.runners.put_heartbeat("r1", NOW, "1.0", "j1", "busy")
    (beat,) = stores.runners.heartbeats()
    assert (beat.runner_id, beat.at, beat.current_job) == ("r1", NOW, "j1")


def _user(n: int) -> UserRecord:
    return UserRecord(f"u{n}", f"u{n}@x.io", "hash", "2026-01-01T00:00:00Z")


def _project(owner: str, n: int) -> ProjectRecord:
    return ProjectRecord(f"p{n}", owner, f"name{n}", "ext", "2026-01-01T00:00:00Z", "t")


def users_and_signup_limit(stores: Stores) -> None:
    users = stores.users
    assert users.count() == 0
    users.create(_user(1), max_users=2)
    with pytest.raises(EmailTakenError):
        users.create(UserRecord("u9", "u1@x.io", "h", "t"), max_users=2)
    assert users.get("u9") is None and users.count() == 1  # nothing half-written
    users.create(_user(2), max_users=2)
    with pytest.raises(LimitExceededError):
        users.create(_user(3), max_users=2)
    assert users.get("u3") is None and users.get_by_email("u3@x.io") is None
    assert users.count() == 2
    assert users.get("u1") == _user(1)
    assert users.get_by_email("u2@x.io") == _user(2)
    # A login reads one item: the email item carries the hash.
    assert users.credentials("u1@x.io") == ("u1", "hash")
    email_item = users._get(keys.email_pk("u1@x.io"), keys.EMAIL_SK)
    assert email_item is not None and email_item["password_hash"] == "hash"
    assert users.credentials("nobody@x.io") is None


def projects_and_owner_limit(stores: Stores) -> None:
    stores.users.create(_user(1), max_users=5)
    projects = stores.projects
    with pytest.raises(NotFoundError):
        projects.create(_project("nobody", 0), max_projects=5)
    projects.create(_project("u1", 1), max_projects=2)
    projects.create(_project("u1", 2), max_projects=2)
    with pytest.raises(LimitExceededError):
        projects.create(_project("u1", 3), max_projects=2)
    assert projects.get("u1", "p3") is None and projects.owner_of("p3") is None
    assert [p.project_id for p in projects.list_owned("u1")] == ["p1", "p2"]
    assert projects.list_owned("u2") == []
    assert projects.get("u1", "p1") == _project("u1", 1)
    assert projects.owner_of("p2") == "u1"
    updated = projects.update("u1", "p1", {"name": "new"}, "t2")
    assert updated is not None and updated.name == "new" and updated.updated_at == "t2"
    assert projects.update("u1", "missing", {"name": "x"}, "t") is None
    assert projects.get("u1", "missing") is None  # the refused update created nothing
    with pytest.raises(ValueError, match="owner_id"):
        projects.update("u1", "p1", {"owner_id": "u2"}, "t")
    assert projects.delete("u1", "p1") is True
    assert projects.delete("u1", "p1") is False
    owner = stores.users.get("u1")
    assert owner is not None and owner.project_count == 1
    assert projects.owner_of("p1") is None
    projects.create(_project("u1", 4), max_projects=2)  # the slot came back


def refresh_token_rotation(stores: Stores) -> None:
    tokens = stores.tokens
    first = RefreshTokenRecord("h1", "u1", "f1", expires_at=1000)
    tokens.create_family(first)
    assert tokens.get("h1") == first
    assert tokens.is_family_revoked("f1") is False
    second = RefreshTokenRecord("h2", "u1", "f1", expires_at=1100)
    assert tokens.rotate("h1", second, now=500, successor_sealed="sealed") == "rotated"
    spent = tokens.get("h1")
    assert spent is not None and spent.used and spent.used_at == 500
    assert (spent.successor_hash, spent.successor_sealed) == ("h2", "sealed")
    assert tokens.get("h2") == second
    third = RefreshTokenRecord("h3", "u1", "f1", expires_at=1200)
    assert tokens.rotate("h1", third, now=500) == "reused"
    assert tokens.is_family_revoked("f1") is True
    assert tokens.rotate("h2", third, now=500) == "invalid"  # its family is revoked
    assert tokens.get("h3") is None
    assert tokens.rotate("missing", third, now=500) == "invalid"
    tokens.create_family(RefreshTokenRecord("h4", "u1", "f2", expires_at=600))
    expired = RefreshTokenRecord("h5", "u1", "f2", 900)
    assert tokens.rotate("h4", expired, 600) == "invalid"
    tokens.create_family(RefreshTokenRecord("h6", "u1", "f3", expires_at=2000))
    tokens.revoke_family("f3", 2000)  # logout before any rotation
    assert tokens.is_family_revoked("f3") is True
    assert tokens.rotate("h6", RefreshTokenRecord("h7", "u1", "f3", 2100), 500) == "invalid"
    unspent = tokens.get("h6")
    assert unspent is not None and unspent.used is False  # nothing written


def refresh_token_grace(stores: Stores) -> None:
    """A spent token presented again within the grace window is "replayed" (nothing
    written, family live); after it, or without a window, it is a reuse."""
    tokens = stores.tokens
    tokens.create_family(RefreshTokenRecord("g1", "u1", "fg", expires_at=5000))
    assert tokens.rotate("g1", RefreshTokenRecord("g2", "u1", "fg", 5100), 1000, "s", 30) == (
        "rotated"
    )
    retry = RefreshTokenRecord("g3", "u1", "fg", 5100)
    assert tokens.rotate("g1", retry, 1030, "s2", grace_s=30) == "replayed"
    assert tokens.get("g3") is None and tokens.is_family_revoked("fg") is False
    spent = tokens.get("g1")
    assert spent is not None and (spent.used_at, spent.successor_sealed) == (1000, "s")
    assert tokens.rotate("g1", retry, 1031, "s2", grace_s=30) == "reused"  # too late
    assert tokens.is_family_revoked("fg") is True
    tokens.create_family(RefreshTokenRecord("n1", "u1", "fn", expires_at=5000))
    assert tokens.rotate("n1", RefreshTokenRecord("n2", "u1", "fn", 5100), 1000) == "rotated"
    assert tokens.rotate("n1", RefreshTokenRecord("n3", "u1", "fn", 5100), 1000) == "reused"
    with pytest.raises(ValueError, match="already exists"):
        tokens.create_family(RefreshTokenRecord("n1", "u1", "fx", expires_at=5000))


def counters_in_windows(stores: Stores) -> None:
    counters = stores.counters
    assert [counters.hit("C", "W", 2, 1000) for _ in range(3)] == [1, 2, None]
    assert counters.get("C", "W", now=999) == 2
    assert counters.get("C", "W", now=1000) == 0  # expired: filtered in code
    counters.release("C", "W")
    assert counters.get("C", "W", now=0) == 1
    counters.release("C", "W")
    counters.release("C", "W")  # never below zero
    assert counters.get("C", "W", now=0) == 0
    counters.release("missing", "W")
    assert counters._get("missing", "W") is None  # a release creates nothing
    assert counters.hit("C", "W", 2, 1000) == 1


SCENARIOS: list[Callable[[Stores], None]] = [
    job_lifecycle,
    job_cancel,
    semaphore_slots_and_line,
    deployments_and_stacks,
    pending_uploads,
    bundles,
    runners,
    users_and_signup_limit,
    projects_and_owner_limit,
    refresh_token_rotation,
    refresh_token_grace,
    counters_in_windows,
]

"""Job items (``PROJECT#<project>`` / ``JOB#<job>``): the one writer library of both processes.

The API creates a job ``queued`` and cancels it; the runner claims it, holds it
with a lease, reports progress, phase and outcome. Every state change is a
conditional update, so several runners (and the API) stay correct together: only
the holder of a live lease (``runner_id`` and ``status = running``) may write
progress or an outcome, and a claim succeeds only on a queued job or on a running
job whose lease has run out.
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.models.jobs import JobRecord
from chalicelib.store.codec import timestamp
from chalicelib.store.expressions import Condition, Update, attr, item_absent, item_exists
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems


class LeaseLostError(RuntimeError):
    """This runner no longer holds the job (another runner claimed it, or it was finished)."""


# --------------------------------------------------------------------------- named clauses


def is_queued() -> Condition:
    return attr("status").eq("queued")


def is_running() -> Condition:
    return attr("status").eq("running")


def held_by(runner_id: str) -> Condition:
    """The runner's live hold: still running, and by this runner."""
    return is_running() & attr("runner_id").eq(runner_id)


def lease_expired(before: float) -> Condition:
    """No lease, or one that ran out before ``before``."""
    return attr("lease_until").missing() | attr("lease_until").lt(before)


def claimable(runner_id: str, now: float) -> Condition:
    """Queued, or running on a lease that ran out, or already ours (a redelivery)."""
    return item_exists() & (
        is_queued()
        | (is_running() & (attr("lease_until").lt(now) | attr("runner_id").eq(runner_id)))
    )


def unfinished_and_unheld(now: float) -> Condition:
    """Queued, or running with nobody's live lease (dead letters, poison messages)."""
    return item_exists() & (is_queued() | (is_running() & lease_expired(now)))


# --------------------------------------------------------------------------- the store


class JobStore(ItemStore):
    # -- reading -----------------------------------------------------------------------

    def get(self, project_id: str, job_id: str) -> JobRecord | None:
        values = self._get(keys.project_pk(project_id), keys.job_sk(job_id))
        return JobRecord.from_item(values) if values else None

    def get_values(self, project_id: str, job_id: str | None) -> dict[str, Any] | None:
        """The raw item (views that need attributes beyond the record)."""
        if not job_id:
            return None
        return self._get(keys.project_pk(project_id), keys.job_sk(job_id))

    def list_project(self, project_id: str) -> list[JobRecord]:
        items = self._query(keys.project_pk(project_id), keys.JOB_PREFIX)
        return [JobRecord.from_item(item) for item in items]

    # -- the API's writes ----------------------------------------------------------------

    def create(self, values: dict[str, Any]) -> JobRecord:
        """Write a new queued job item (``values`` without keys); refuses an existing id."""
        item = {
            "pk": keys.project_pk(values["project_id"]),
            "sk": keys.job_sk(values["job_id"]),
            **values,
        }
        if not self._put(item, item_absent()):
            raise ValueError(f"job {values['job_id']} already exists")
        return JobRecord.from_item(item)

    def fail_enqueue(self, project_id: str, job_id: str, now: float) -> None:
        """The message could not be sent: the job will never run."""
        self._update(
            keys.project_pk(project_id),
            keys.job_sk(job_id),
            Update().set_all(
                {
                    "status": "failed",
                    "error": {"code": "enqueue_failed", "message": "the job could not be queued"},
                    "updated_at": timestamp(now),
                }
            ),
        )

    def cancel_if(
        self, project_id: str, job_id: str, when: Condition, now: float, message: str
    ) -> bool:
        """-> cancelled (with the reason) when ``when`` holds; False otherwise."""
        stamp = timestamp(now)
        update = (
            Update()
            .set_all(
                {
                    "status": "cancelled",
                    "finished_at": stamp,
                    "finished_at_epoch": now,
                    "updated_at": stamp,
                    "error": {"code": "cancelled", "message": message},
                    "cancel_requested": True,
                }
            )
            .remove("lease_until")
        )
        return (
            self._update(keys.project_pk(project_id), keys.job_sk(job_id), update, when) is not None
        )

    def request_cancel(self, project_id: str, job_id: str, now: float) -> bool:
        """Raise the flag a running job's heartbeat reads; False when it is not running."""
        update = Update().set_all({"cancel_requested": True, "updated_at": timestamp(now)})
        found = self._update(keys.project_pk(project_id), keys.job_sk(job_id), update, is_running())
        return found is not None

    # -- the runner's writes -----------------------------------------------------------

    def _change(
        self, project_id: str, job_id: str, update: Update, condition: Condition
    ) -> JobRecord | None:
        values = self._update(keys.project_pk(project_id), keys.job_sk(job_id), update, condition)
        return JobRecord.from_item(values) if values is not None else None

    def claim(
        self, project_id: str, job_id: str, runner_id: str, now: float, lease_s: float
    ) -> JobRecord | None:
        """queued -> running (or take over an expired lease); None if not claimable."""
        update = (
            Update()
            .set_all(
                {
                    "status": "running",
                    "runner_id": runner_id,
                    "lease_until": now + lease_s,
                    "updated_at": timestamp(now),
                    "progress_message": "started",
                }
            )
            .add("attempts", 1)
            .set_default("started_at", timestamp(now))
            .set_default("started_at_epoch", now)
        )
        return self._change(project_id, job_id, update, claimable(runner_id, now))

    def _held(self, project_id: str, job_id: str, runner_id: str, update: Update) -> JobRecord:
        record = self._change(project_id, job_id, update, held_by(runner_id))
        if record is None:
            raise LeaseLostError(f"job {job_id} is no longer held by {runner_id}")
        return record

    def extend_lease(
        self, project_id: str, job_id: str, runner_id: str, now: float, lease_s: float
    ) -> JobRecord:
        return self._held(project_id, job_id, runner_id, Update().set("lease_until", now + lease_s))

    def report_progress(
        self,
        project_id: str,
        job_id: str,
        runner_id: str,
        now: float,
        percent: int,
        message: str | None,
    ) -> None:
        update = Update().set_all(
            {"progress": percent, "progress_message": message, "updated_at": timestamp(now)}
        )
        self._held(project_id, job_id, runner_id, update)

    def note_terraform(
        self,
        project_id: str,
        job_id: str,
        runner_id: str,
        now: float,
        *,
        phase: str | None = None,
        error_code: str | None = None,
        resources: list[str] | None = None,
        phase_timings: list[dict[str, Any]] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """What a Terraform job tells the API besides its outcome, as explicit attributes:
        the deployment ``phase`` it is in (``planning``, ``applying``...), a finer
        ``error_code`` (``plan_stale``) and the ``resources`` its stack's state holds. No
        reader ever parses a message for these. A shipping job also writes its release
        ``phase_timings`` and, once applied, its ``result`` (outputs) before it releases."""
        values: dict[str, Any] = {"updated_at": timestamp(now)}
        named = (
            ("phase", phase), ("error_code", error_code), ("resources", resources),
            ("phase_timings", phase_timings), ("result", result),
        )  # fmt: skip
        for name, value in named:
            if value is not None:
                values[name] = value
        self._held(project_id, job_id, runner_id, Update().set_all(values))

    def finish(
        self,
        project_id: str,
        job_id: str,
        runner_id: str,
        now: float,
        status: str,
        *,
        error: dict[str, str] | None = None,
        result: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> JobRecord:
        """running -> a final state (succeeded/failed/cancelled/planned), if we hold the lease."""
        sets: dict[str, Any] = {
            "status": status,
            "updated_at": timestamp(now),
            "finished_at": timestamp(now),
            "finished_at_epoch": now,
        }
        if status == "succeeded":
            sets["progress"] = 100
            sets["progress_message"] = "done"
        if error is not None:
            sets["error"] = error
        if result is not None:
            sets["result"] = result
        if summary is not None:
            sets["summary"] = summary
        sets.update(attributes or {})
        return self._held(
            project_id, job_id, runner_id, Update().set_all(sets).remove("lease_until")
        )

    def release(
        self, project_id: str, job_id: str, runner_id: str, now: float, reason: str
    ) -> bool:
        """running -> queued (a retry later, or handed back on stop); False if not ours."""
        update = (
            Update()
            .set_all({"status": "queued", "updated_at": timestamp(now), "progress_message": reason})
            .remove("lease_until", "runner_id")
        )
        return self._change(project_id, job_id, update, held_by(runner_id)) is not None

    def set_attributes(self, project_id: str, job_id: str, attributes: dict[str, Any]) -> None:
        """Informational attributes (last error, place in line) on an existing job item."""
        if attributes:
            self._change(project_id, job_id, Update().set_all(attributes), item_exists())

    def fail_unfinished(
        self, project_id: str, job_id: str, now: float, code: str, message: str
    ) -> bool:
        """Fail a job that is not finished, whoever holds it (dead letters, poison messages).

        A running job is only taken over when its lease has run out, so a live
        attempt elsewhere is not overwritten.
        """
        update = (
            Update()
            .set_all(
                {
                    "status": "failed",
                    "error": {"code": code, "message": message},
                    "updated_at": timestamp(now),
                    "finished_at": timestamp(now),
                    "finished_at_epoch": now,
                }
            )
            .remove("lease_until")
        )
        return self._change(project_id, job_id, update, unfinished_and_unheld(now)) is not None


class DynamoJobStore(DynamoItems, JobStore):
    pass


class MemoryJobStore(MemoryItems, JobStore):
    pass

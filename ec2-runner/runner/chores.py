"""Periodic chores on one background thread: the runner heartbeat, capacity samples, the
dead-letter sweep. The thread sleeps on an Event until the next one is due (no CPU at
rest) and keeps beating while a long job runs in the main thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.models.jobs import InvalidJobMessageError, JobMessage
from runner.jobstore import JobStore
from runner.ledger import Ledger
from runner.logging import get_logger
from runner.settings import RunnerSettings

log = get_logger("runner.chores")


@dataclass
class Chore:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_due: float = 0.0


class Chores:
    def __init__(self, chores: list[Chore], monotonic: Callable[[], float] = time.monotonic):
        self._chores = chores
        self._monotonic = monotonic
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.final: Callable[[], None] | None = None  # run once on close (e.g. "stopped" beat)

    def start(self) -> None:
        now = self._monotonic()
        for chore in self._chores:
            chore.next_due = now  # every chore runs once at start
        self._thread = threading.Thread(target=self._loop, name="runner-chores", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.final is not None:
            try:
                self.final()
            except Exception:
                log.warning("final chore failed", exc_info=True)

    def run_due(self) -> float:
        """Run the chores that are due; return seconds until the next one."""
        now = self._monotonic()
        for chore in self._chores:
            if chore.next_due <= now:
                try:
                    chore.run()
                except Exception:
                    log.warning("chore failed", exc_info=True, extra={"chore": chore.name})
                chore.next_due = now + chore.interval_s
        return max(0.0, min(c.next_due for c in self._chores) - self._monotonic())

    def _loop(self) -> None:
        if not self._chores:
            return
        while not self._done.is_set():
            wait = self.run_due()
            if self._done.wait(wait):
                return


class CapacitySampler:
    """CPU, memory and disk via psutil (imported on first use: not needed at import time)."""

    def __init__(self, disk_path: str):
        self._disk_path = disk_path
        self._psutil: Any = None
        self._process: Any = None

    def sample(self) -> dict[str, float | int | None]:
        if self._psutil is None:
            import psutil

            self._psutil = psutil
            self._process = psutil.Process(os.getpid())
            psutil.cpu_percent(interval=None)  # primes the counter; the next call is meaningful
        psutil = self._psutil
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(self._disk_path)
        return {
            "cpu_percent": psutil.cpu_percent(interval=None),
            "memory_percent": memory.percent,
            "memory_used_bytes": int(memory.total - memory.available),
            "disk_percent": disk.percent,
            "disk_free_bytes": int(disk.free),
            "process_rss_bytes": int(self._process.memory_info().rss),
        }


class DeadLetterSweeper:
    """Marks jobs whose messages reached the dead-letter queue as failed, with the reason.

    The messages stay in the DLQ (operators read or redrive them; the queue's
    retention removes them): each sweep receives a few batches with a short
    visibility, records new message ids in runner.db, then makes them visible again.
    """

    def __init__(
        self,
        *,
        sqs: Any,
        dlq_url: str,
        store: JobStore,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
        max_batches: int = 5,
    ):
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._max_batches = max_batches

    def sweep(self) -> int:
        """Return how many new dead letters were handled."""
        handled = 0
        seen: list[dict[str, str]] = []
        try:
            for _ in range(self._max_batches):
                response = self._sqs.receive_message(
                    QueueUrl=self._dlq_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=30,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
                messages = response.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    seen.append({"Id": str(len(seen)), "ReceiptHandle": message["ReceiptHandle"]})
                    if self._handle(message):
                        handled += 1
        finally:
            for start in range(0, len(seen), 10):
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self._dlq_url,
                    Entries=[dict(e, VisibilityTimeout=0) for e in seen[start : start + 10]],
                )
        return handled

    def _handle(self, message: dict[str, Any]) -> bool:
        job_id: str | None
        project_id: str | None
        problem: str | None
        try:
            job = JobMessage.from_body(message.get("Body", ""))
            job_id, project_id, problem = job.job_id, job.project_id, None
        except InvalidJobMessageError as exc:
            job_id, project_id, problem = exc.job_id, exc.project_id, exc.reason
        now = self._clock()
        record = None
        if job_id and project_id:
            record = self._store.get(project_id, job_id)
        last = record.last_error if record is not None else None
        if problem:
            reason = f"the job's message could not be read ({problem}) and was dead-lettered"
        else:
            reason = "the job's message reached the dead-letter queue after repeated failures"
            if last is not None:
                reason += f"; last error: {last.message}"
        if not self._ledger.record_dead_letter(
            message_id=message["MessageId"],
            job_id=job_id,
            project_id=project_id,
            seen_at=now,
            reason=reason,
        ):
            return False
        log.warning(
            "dead letter", extra={"job_id": job_id, "project_id": project_id, "reason": reason}
        )
        if record is not None and not record.is_terminal:
            self._store.fail_unfinished(
                project_id or "", job_id or "", now, "dead_lettered", reason
            )
        return True


def runner_chores(
    settings: RunnerSettings,
    *,
    sqs: Any,
    store: JobStore,
    ledger: Ledger,
    version: str,
    current_job: Callable[[], str | None],
    clock: Callable[[], float] = time.time,
) -> Chores:
    sampler = CapacitySampler(str(settings.runner_db.parent))
    sweeper = DeadLetterSweeper(
        sqs=sqs, dlq_url=settings.dlq_url, store=store, ledger=ledger, clock=clock
    )

    def beat(state: str | None = None) -> None:
        job = current_job()
        store.put_runner_heartbeat(
            settings.runner_id, clock(), version, job, state or ("busy" if job else "idle")
        )

    def sample() -> None:
        ledger.add_capacity_sample(sampler.sample(), clock())

    chores = Chores(
        [
            Chore("runner_heartbeat", settings.runner_heartbeat_interval_s, beat),
            Chore("capacity_sample", settings.capacity_sample_interval_s, sample),
            Chore("dlq_sweep", settings.dlq_sweep_interval_s, sweeper.sweep),
        ]
    )
    chores.final = lambda: beat("stopped")
    return chores


# --- asleep when idle ----------------------------------------------------------------------


class IdleStopError(RuntimeError):
    """The instance to stop is unknown (no setting, no instance metadata)."""


class IdleStop:
    """Stops the runner's own instance once nothing has run or arrived for ``after_s``.

    The worker asks ``nothing_waiting()`` when its pool has been empty and no message
    came for the idle period: the jobs queue holds no message (visible, in flight or
    delayed: a job waiting for a Terraform slot is a delayed copy) and no job waits
    for a Terraform slot in the semaphore. Then ``stop_instance()`` calls EC2's
    StopInstances on this instance; the API starts it again when it queues a job
    (chalicelib/services/runner_wake.py). The volume (runner.db) survives the stop.
    """

    def __init__(
        self,
        *,
        ec2: Any,
        instance_id: str,
        sqs: Any,
        queue_url: str,
        dynamodb: Any,
        table: str,
        after_s: float,
        clock: Callable[[], float] = time.time,
    ):
        self._ec2 = ec2
        self.instance_id = instance_id
        self._sqs = sqs
        self._queue_url = queue_url
        self._ddb = dynamodb
        self._table = table
        self.after_s = after_s
        self._clock = clock

    def queued_messages(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def slot_waiters(self) -> int:
        """Jobs still asking for a Terraform slot (live waiter items of the semaphore)."""
        from runner.semaphore import SEMAPHORE_PK, WAIT_PREFIX

        response = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :wait)",
            FilterExpression="seen_until >= :now",
            ExpressionAttributeValues={
                ":pk": {"S": SEMAPHORE_PK},
                ":wait": {"S": WAIT_PREFIX},
                ":now": {"N": repr(round(self._clock(), 6))},
            },
            ConsistentRead=True,
        )
        return len(response.get("Items", []))

    def nothing_waiting(self) -> bool:
        queued = self.queued_messages()
        waiters = self.slot_waiters() if queued == 0 else 0
        if queued or waiters:
            log.info("idle but work is waiting", extra={"queued": queued, "waiters": waiters})
        return queued == 0 and waiters == 0

    def stop_instance(self) -> None:
        log.info("idle: stopping this instance", extra={"instance_id": self.instance_id})
        self._ec2.stop_instances(InstanceIds=[self.instance_id])


IMDS_URL = "http://169.254.169.254/latest"


def instance_id_from_imds(urlopen: Callable[..., Any] | None = None, timeout_s: float = 2.0) -> str:
    """This instance's id from the instance metadata service (IMDSv2: token first)."""
    import urllib.request

    opener = urlopen or urllib.request.urlopen
    try:
        token_request = urllib.request.Request(  # noqa: S310 - a fixed http URL
            f"{IMDS_URL}/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        with opener(token_request, timeout=timeout_s) as response:
            token = response.read().decode()
        id_request = urllib.request.Request(  # noqa: S310 - a fixed http URL
            f"{IMDS_URL}/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
        )
        with opener(id_request, timeout=timeout_s) as response:
            instance_id = response.read().decode().strip()
    except OSError as exc:
        raise IdleStopError(
            "AUTOSTACK_RUNNER_INSTANCE_ID is not set and the instance metadata service "
            f"did not answer ({exc}); set it, or AUTOSTACK_RUNNER_IDLE_STOP_S=0"
        ) from None
    if not instance_id.startswith("i-"):
        raise IdleStopError(f"the instance metadata service gave no instance id: {instance_id!r}")
    return instance_id

"""The worker loop: long-poll SQS, claim each job in DynamoDB, run it in a pool slot.

Modelled on rq's worker (``Worker.work``: a loop that dequeues while not stopped,
bounded runs for tests with ``max_jobs``, ``burst``, ``idle_exit_s``, teardown in
``finally``), with rq's job execution moved into a bounded pool (``runner.pool``):
up to ``terraform_slots`` Terraform jobs and ``general_slots`` other jobs run at once,
each in its own thread with its own heartbeat (message visibility and lease), cancel,
log sink and ledger attempt. The loop receives a message only while a slot is free;
a message whose kind has no free slot goes back to the queue as a fresh, delayed copy
(so waiting never counts towards the dead-letter limit).

Stopping: the first SIGTERM/SIGINT is a warm stop (an idle runner leaves the long poll
at once; every running job is told through ``ctx.stop`` and the runner waits for all
of them); the second is a cold stop (every running job is abandoned: its attempt ended
``interrupted``, its claim released and its message handed back with visibility 0).
With an ``IdleStop`` (``runner.chores``) the runner stops its own instance after a
quiet period with nothing running or queued, and leaves the loop.
"""

from __future__ import annotations

import contextvars
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models.jobs import InvalidJobMessageError, JobMessage, JobRecord
from runner import __version__
from runner.clients import RunnerClients
from runner.errors import (
    JobCancelledError,
    JobDeferredError,
    JobInterruptedError,
    classify,
    describe,
    error_code,
)
from runner.jobs.context import (
    JobContext,
    JobLogSink,
    JobResult,
    ProgressReporter,
    SinkLogHandler,
    StopSignal,
)
from runner.jobs.registry import HandlerRegistry
from runner.jobstore import JobStore, LeaseLostError
from runner.ledger import Ledger
from runner.logging import get_logger, job_context
from runner.pool import JobPool, slot_kind
from runner.settings import RunnerSettings

log = get_logger("runner.worker")


class ColdStopError(BaseException):
    """Second signal: abandon the current job now (BaseException so handlers cannot swallow it)."""


class _StopPolling(BaseException):
    """First signal while idle in the long poll: leave the poll at once."""


class Backoff:
    """Capped exponential backoff with jitter: half fixed, half random ("equal jitter")."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random):
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, min(attempt, 30))))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


@dataclass
class _Running:
    message: JobMessage
    receipt: str
    stop: StopSignal
    attempt_id: int
    heartbeat: _JobHeartbeat | None = None
    _ended: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def end(self) -> bool:
        """True the first time: the caller writes the attempt's outcome (once)."""
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True


class _JobHeartbeat:
    """Keeps the message invisible and the lease alive while a job runs."""

    def __init__(
        self,
        worker: Worker,
        message: JobMessage,
        receipt: str,
        stop: StopSignal,
    ):
        self._worker = worker
        self._message = message
        self._receipt = receipt
        self._stop = stop
        self._done = threading.Event()
        self.lost = False
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._loop,), name="job-heartbeat", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        settings = self._worker.settings
        while not self._done.wait(settings.heartbeat_interval_s):
            try:
                self._worker.clients.sqs.change_message_visibility(
                    QueueUrl=settings.queue_url,
                    ReceiptHandle=self._receipt,
                    VisibilityTimeout=settings.visibility_timeout_s,
                )
                record = self._worker.store.extend_lease(
                    self._message.project_id,
                    self._message.job_id,
                    settings.runner_id,
                    self._worker.clock(),
                    settings.lease_s,
                )
                if record.cancel_requested and self._stop.reason != "cancel":
                    log.info("cancel requested")
                    self._stop.set("cancel")
            except LeaseLostError:
                log.warning("lease lost: another runner holds the job now")
                self.lost = True
                self._stop.set("lease_lost")
                return
            except Exception:
                # A missed beat is not fatal: the next one retries well before the lease ends.
                log.warning("job heartbeat failed", exc_info=True)


class Worker:
    def __init__(
        self,
        settings: RunnerSettings,
        clients: RunnerClients,
        ledger: Ledger,
        registry: HandlerRegistry | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        services: dict[str, Any] | None = None,
        chores: Any = None,
        idle_stop: Any = None,
    ):
        self.settings = settings
        self.clients = clients
        self.ledger = ledger
        self.registry = registry or HandlerRegistry()
        self.clock = clock
        self._warm_stop = threading.Event()
        # By default a pause (backoff) ends early on a warm stop, so SIGTERM is never kept waiting.
        self.sleep: Callable[[float], object] = sleep or self._warm_stop.wait
        self.backoff = Backoff(
            settings.backoff_base_s,
            settings.backoff_cap_s,
            rng or random.Random(),  # noqa: S311 - jitter, not secrets
        )
        self.services = services or {}
        self.store = JobStore(clients.dynamodb, settings.table)
        self.chores = chores
        # runner.chores.IdleStop: stops this runner's instance when nothing is left to do.
        self.idle_stop = idle_stop
        self.stopped_for_idle = False
        self.version = __version__
        self._polling = False
        self._running: dict[str, _Running] = {}
        self._running_lock = threading.Lock()
        self._taken: set[str] = set()  # job ids dispatched to a slot and not done yet
        self.pool = JobPool(
            {"terraform": settings.terraform_slots, "general": settings.general_slots}
        )
        self.processed = 0
        self._handle_failures = 0
        # A job thread met ColdStopError (e.g. a handler that must stop the runner now):
        # the main thread raises it at its next step.
        self._cold_stop = threading.Event()

    # --- stopping ------------------------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        return self._warm_stop.is_set()

    @property
    def current_jobs(self) -> list[str]:
        with self._running_lock:
            return sorted(self._running)

    @property
    def current_job(self) -> str | None:
        """The running jobs' ids, comma-separated (None when idle): the runner heartbeat."""
        jobs = self.current_jobs
        return ",".join(jobs) if jobs else None

    def request_stop(self) -> None:
        """Warm stop (thread-safe, no exception): leave once the running jobs are done."""
        self._warm_stop.set()
        with self._running_lock:
            running = list(self._running.values())
        for run in running:
            run.stop.set("shutdown")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self._warm_stop.is_set():
            log.warning("second signal: cold stop", extra={"signal": signum})
            raise ColdStopError()
        log.info(
            "signal: warm stop",
            extra={"signal": signum, "current_job": self.current_job},
        )
        self.request_stop()
        if self._polling:
            raise _StopPolling()

    # --- the loop --------------------------------------------------------------------------
    def run(
        self,
        *,
        max_jobs: int | None = None,
        burst: bool = False,
        idle_exit_s: float | None = None,
    ) -> int:
        """Process messages until stopped; return how many messages were handled.

        ``burst``: leave when a receive finds the queue empty. ``idle_exit_s``: leave
        after that long without a message. ``max_jobs``: leave after that many messages
        (a message sent back for want of a free slot does not count).
        Whichever way it leaves (but a cold stop), it waits for the running jobs.
        """
        log.info(
            "runner starting",
            extra={
                "runner_id": self.settings.runner_id,
                "version": self.version,
                "slots": self.pool.limits,
            },
        )
        abandoned = self.ledger.close_dangling_attempts(self.clock())
        if abandoned:
            log.warning("attempts of a previous run marked abandoned", extra={"count": abandoned})
        if self.chores is not None:
            self.chores.start()
        handled = self.processed
        try:
            try:
                self._loop(max_jobs, burst, idle_exit_s)
            except _StopPolling:
                pass
            self._drain()
        except ColdStopError:
            self._abandon_all()
            raise
        finally:
            if self.chores is not None:
                self.chores.close()
            log.info("runner stopped", extra={"processed": self.processed - handled})
        return self.processed - handled

    def _loop(self, max_jobs: int | None, burst: bool, idle_exit_s: float | None) -> None:
        receive_failures = 0
        handled_at = self.processed
        last_message = time.monotonic()
        while not self._warm_stop.is_set():
            self._raise_if_cold()
            if max_jobs is not None and self.processed - handled_at >= max_jobs:
                return
            if not self.pool.any_free():
                self.pool.wait_for_free(0.5)  # short, so that signals are seen promptly
                continue
            quiet_s = min(time.monotonic() - last_message, self.pool.idle_for())
            if self._idle_stop_due(quiet_s):
                return
            wait_s = min(self.settings.wait_time_s, 1) if burst else self.settings.wait_time_s
            if self.idle_stop is not None:  # look again when the quiet period would be up
                wait_s = max(1, min(wait_s, int(self.idle_stop.after_s - quiet_s + 0.999)))
            if idle_exit_s is not None:
                remaining = idle_exit_s - (time.monotonic() - last_message)
                if remaining <= 0:
                    return
                wait_s = max(0, min(wait_s, int(remaining + 0.999)))
            try:
                messages = self._receive(wait_s)
            except _StopPolling:
                return
            except Exception:
                receive_failures += 1
                delay = self.backoff.delay(receive_failures)
                log.warning(
                    "receive failed; backing off",
                    exc_info=True,
                    extra={"delay_s": round(delay, 3)},
                )
                self.sleep(delay)
                continue
            receive_failures = 0
            if not messages:
                if burst and self.pool.busy() == 0:
                    return
                continue
            for message in messages:
                if self._warm_stop.is_set():
                    self._hand_back(message["ReceiptHandle"])
                    continue
                if self._dispatch(message):
                    self.processed += 1
            last_message = time.monotonic()

    def _idle_stop_due(self, quiet_s: float) -> bool:
        """Nothing ran or arrived for the idle period and nothing is queued: stop the
        instance (the runner leaves its loop; systemd stops it with the machine)."""
        idle = self.idle_stop
        if idle is None or quiet_s < idle.after_s or self.pool.busy():
            return False
        try:
            if not idle.nothing_waiting():
                return False
            idle.stop_instance()
        except Exception:
            log.warning("idle stop failed; staying up", exc_info=True)
            return False
        self.stopped_for_idle = True
        self._warm_stop.set()
        return True

    def _drain(self) -> None:
        """Wait for every running job (a second signal interrupts the wait: cold stop)."""
        if self.pool.busy():
            log.info("waiting for the running jobs", extra={"jobs": self.current_jobs})
        while not self.pool.wait_idle(0.5):
            self._raise_if_cold()
        self._raise_if_cold()

    def _raise_if_cold(self) -> None:
        if self._cold_stop.is_set():
            raise ColdStopError()

    def _abandon_all(self) -> None:
        """Cold stop: end every running attempt, release its claim, hand its message back."""
        with self._running_lock:
            running = list(self._running.values())
        for run in running:
            run.stop.set("shutdown")
            if run.heartbeat is not None:
                run.heartbeat.close()  # no renewal may land after the hand-back below
            if not run.end():
                continue
            try:
                self.ledger.end_attempt(
                    run.attempt_id,
                    ended_at=self.clock(),
                    outcome="interrupted",
                    error="cold stop of the runner",
                )
            except Exception:
                log.warning("could not end the attempt in the ledger", exc_info=True)
            try:
                self._release(run.message, run.receipt, "handed back: the runner stopped", 0)
            except Exception:
                log.warning("could not release the job", exc_info=True)
        if running:
            log.warning("cold stop: jobs handed back", extra={"jobs": len(running)})

    def _receive(self, wait_s: int) -> list[dict[str, Any]]:
        self._polling = True
        try:
            if self._warm_stop.is_set():
                return []
            # Debug: tests wait for it to know a signal now lands inside the long poll.
            log.debug("long poll", extra={"wait_s": wait_s})
            response = self.clients.sqs.receive_message(
                QueueUrl=self.settings.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait_s,
                VisibilityTimeout=self.settings.visibility_timeout_s,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        finally:
            self._polling = False
        return list(response.get("Messages", []))

    def _hand_back(self, receipt: str, delay_s: int = 0) -> None:
        try:
            self.clients.sqs.change_message_visibility(
                QueueUrl=self.settings.queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=max(0, min(int(delay_s), 43200)),
            )
        except Exception:
            log.warning("could not hand the message back", exc_info=True)

    def _delete(self, receipt: str) -> None:
        self.clients.sqs.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=receipt)

    # --- one message -----------------------------------------------------------------------
    def _dispatch(self, raw: dict[str, Any]) -> bool:
        """Start the message's job in a free slot of its kind (True: handled), or send
        it back for later (False)."""
        try:
            message = JobMessage.from_body(raw.get("Body", ""))
        except InvalidJobMessageError as exc:
            self._poison(raw, exc)
            return True
        with self._running_lock:
            duplicate = message.job_id in self._taken
            self._taken.add(message.job_id)
        if duplicate:
            # A second delivery while this runner has the job: our lease is live, so a
            # claim would succeed; look again once this attempt would be over.
            log.info("duplicate delivery of a job running here: later")
            self._hand_back(raw["ReceiptHandle"], int(self.settings.lease_s))
            return True
        kind = slot_kind(message.kind)
        name = f"job-{message.kind}-{message.job_id[:8]}"
        started = self.pool.try_start(kind, name, lambda: self._work(raw, message))
        if not started and kind == "general":
            # Analyses and snapshots are short: waiting a moment for the slot beats a
            # round trip through the queue. (Terraform jobs run for minutes: not worth it.)
            if self.pool.wait_for_kind(kind, self.settings.busy_requeue_s):
                if self._warm_stop.is_set():  # stopping meanwhile: not a new job now
                    self._forget(message.job_id)
                    self._hand_back(raw["ReceiptHandle"])
                    return False
                started = self.pool.try_start(kind, name, lambda: self._work(raw, message))
        if not started:
            self._forget(message.job_id)
            self._requeue_busy(raw, message)
            return False
        return True

    def _forget(self, job_id: str) -> None:
        with self._running_lock:
            self._taken.discard(job_id)

    def _requeue_busy(self, raw: dict[str, Any], message: JobMessage) -> None:
        """No free slot of this kind here: a fresh copy, delayed (any runner may take it)."""
        log.info(
            "no free slot for the job here: back to the queue",
            extra={"job_id": message.job_id, "kind": message.kind},
        )
        try:
            self.clients.sqs.send_message(
                QueueUrl=self.settings.queue_url,
                MessageBody=raw.get("Body", ""),
                DelaySeconds=self.settings.busy_requeue_s,
            )
        except Exception:
            log.warning("could not requeue the message; handing it back", exc_info=True)
            self._hand_back(raw["ReceiptHandle"], self.settings.busy_requeue_s)
            return
        self._delete(raw["ReceiptHandle"])

    def _work(self, raw: dict[str, Any], message: JobMessage) -> None:
        """One message in its pool thread."""
        try:
            self._handle(raw, message)
            self._handle_failures = 0
        except ColdStopError:
            self._cold_stop.set()
            self._warm_stop.set()
        except Exception:
            # E.g. DynamoDB unreachable while claiming: the loop survives, the
            # message comes back after a backoff and is tried again (by any thread: the
            # job id is forgotten first, and this slot stays taken for the backoff).
            self._handle_failures += 1
            delay = self.backoff.delay(self._handle_failures)
            log.exception("could not handle the message", extra={"delay_s": round(delay, 3)})
            self._forget(message.job_id)
            self._hand_back(raw["ReceiptHandle"], round(delay))
            self.sleep(delay)
        finally:
            self._forget(message.job_id)

    def _handle(self, raw: dict[str, Any], message: JobMessage) -> None:
        receipt = raw["ReceiptHandle"]
        receive_count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        with job_context(
            job_id=message.job_id,
            project_id=message.project_id,
            kind=message.kind,
            request_id=message.request_id,
        ):
            now = self.clock()
            record = self.store.claim(
                message.project_id,
                message.job_id,
                self.settings.runner_id,
                now,
                self.settings.lease_s,
            )
            if record is None:
                self._not_claimed(message, receipt, now)
                return
            log.info(
                "job claimed",
                extra={"attempt": record.attempts, "receive_count": receive_count},
            )
            self._execute(message, record, receipt, receive_count)

    def _poison(self, raw: dict[str, Any], exc: InvalidJobMessageError) -> None:
        """An unparseable message: fail its job if we can tell which, let SQS dead-letter it."""
        log.error(
            "poison message",
            extra={"message_id": raw.get("MessageId"), "reason": exc.reason},
        )
        if exc.job_id and exc.project_id:
            try:
                self.store.fail_unfinished(
                    exc.project_id, exc.job_id, self.clock(), "invalid_message", exc.reason
                )
            except Exception:
                log.warning("could not fail the poison message's job", exc_info=True)
        # Never deleted here: it comes back at once and, past maxReceiveCount, SQS moves it
        # to the dead-letter queue, where operators can read it.
        self._hand_back(raw["ReceiptHandle"])

    def _not_claimed(self, message: JobMessage, receipt: str, now: float) -> None:
        current = self.store.get(message.project_id, message.job_id)
        if current is None:
            log.warning("message for a job that does not exist: dropped")
            self._delete(receipt)
        elif current.is_terminal:
            # At-least-once delivery: this job was already answered. Executed once.
            log.info(
                "duplicate delivery of a finished job: dropped", extra={"status": current.status}
            )
            self._delete(receipt)
        elif current.status == "running" and current.lease_until is not None:
            # Another runner holds a live lease: look again once it would have run out.
            wait = int(max(1, current.lease_until - now + 1))
            log.info("job held by another runner", extra={"holder": current.runner_id})
            self._hand_back(receipt, wait)
        else:
            self._hand_back(receipt, 1)

    def _execute(
        self, message: JobMessage, record: JobRecord, receipt: str, receive_count: int
    ) -> None:
        settings = self.settings
        started = self.clock()
        queue_wait = (
            round(started - record.created_at_epoch, 3) if record.created_at_epoch else None
        )
        attempt_id = self.ledger.start_attempt(
            job_id=message.job_id,
            project_id=message.project_id,
            kind=message.kind,
            attempt=record.attempts,
            runner_id=settings.runner_id,
            request_id=message.request_id,
            receive_count=receive_count,
            started_at=started,
            queue_wait_s=queue_wait,
        )
        stop = StopSignal()
        run = _Running(message, receipt, stop, attempt_id)
        with self._running_lock:
            self._running[message.job_id] = run
        if self._warm_stop.is_set():
            stop.set("shutdown")
        sink = JobLogSink(
            s3=self.clients.s3,
            bucket=settings.bucket,
            project_id=message.project_id,
            job_id=message.job_id,
            attempt=record.attempts,
            ledger=self.ledger,
            clock=self.clock,
        )
        ctx = JobContext(
            message=message,
            job=record,
            settings=settings,
            clients=self.clients,
            ledger=self.ledger,
            progress=ProgressReporter(
                lambda pct, text: self.store.report_progress(
                    message.project_id, message.job_id, settings.runner_id, self.clock(), pct, text
                )
            ),
            log=sink,
            stop=stop,
            attempt=record.attempts,
            receive_count=receive_count,
            clock=self.clock,
            sleep=self.sleep,
            services=self.services,
        )
        heartbeat = _JobHeartbeat(self, message, receipt, stop)
        run.heartbeat = heartbeat
        heartbeat.start()
        runner_logger = logging.getLogger("runner")
        sink_handler = SinkLogHandler(sink, message.job_id)
        runner_logger.addHandler(sink_handler)
        outcome = "interrupted"
        error_text: str | None = None
        try:
            sink.write(f"attempt {record.attempts} on {settings.runner_id}: {message.kind} started")
            if settings.job_delay_s:
                self.sleep(settings.job_delay_s)
            handler = self.registry.resolve(message.kind)
            try:
                result = handler(ctx)
            finally:
                ctx.progress.close()  # a throttled last update lands before the outcome
            heartbeat.close()
            outcome, error_text = self._succeed(message, receipt, result, heartbeat.lost)
        except ColdStopError:
            outcome, error_text = "interrupted", "cold stop of the runner"
            heartbeat.close()
            self._release(message, receipt, "handed back: the runner stopped", 0)
            raise
        except JobDeferredError as exc:
            outcome, error_text = "deferred", exc.reason
            self._defer(message, receipt, exc)
        except JobCancelledError as exc:
            outcome, error_text = "cancelled", describe(exc)
            self._finish(
                message, receipt, "cancelled", error={"code": "cancelled", "message": describe(exc)}
            )
        except JobInterruptedError as exc:
            outcome, error_text = "interrupted", describe(exc)
            self._release(message, receipt, "handed back: the runner is stopping", 0)
        except LeaseLostError as exc:
            outcome, error_text = "lease_lost", describe(exc)
            log.warning("lease lost; the other holder answers the job")
        except Exception as exc:
            outcome, error_text = self._failed_attempt(message, receipt, receive_count, exc)
        finally:
            heartbeat.close()
            runner_logger.removeHandler(sink_handler)
            with self._running_lock:
                self._running.pop(message.job_id, None)
            ended = self.clock()
            try:
                sink.write(
                    f"attempt {record.attempts} ended: {outcome}"
                    + (f": {error_text}" if error_text else "")
                )
                sink.flush()
            except Exception:
                log.warning("could not ship the job's log", exc_info=True)
            if run.end():  # not already ended by a cold stop
                self.ledger.end_attempt(
                    attempt_id, ended_at=ended, outcome=outcome, error=error_text
                )
            log.info(
                "job attempt ended",
                extra={"outcome": outcome, "error": error_text, "run_s": round(ended - started, 3)},
            )

    def _succeed(
        self, message: JobMessage, receipt: str, result: JobResult, lease_lost: bool
    ) -> tuple[str, str | None]:
        if lease_lost:
            raise LeaseLostError("lease lost while the job ran")
        self._finish(
            message,
            receipt,
            result.status,
            result=result.result,
            summary=result.summary,
            attributes=result.attributes,
        )
        return result.status, None

    def _finish(self, message: JobMessage, receipt: str, status: str, **fields: Any) -> None:
        self.store.finish(
            message.project_id,
            message.job_id,
            self.settings.runner_id,
            self.clock(),
            status,
            **fields,
        )
        # Answered: the message must not come back.
        self._delete(receipt)

    def _release(self, message: JobMessage, receipt: str, reason: str, delay_s: int) -> None:
        try:
            self.store.release(
                message.project_id, message.job_id, self.settings.runner_id, self.clock(), reason
            )
        finally:
            self._hand_back(receipt, delay_s)

    def _defer(self, message: JobMessage, receipt: str, exc: JobDeferredError) -> None:
        self.store.release(
            message.project_id, message.job_id, self.settings.runner_id, self.clock(), exc.reason
        )
        if exc.attributes:
            self.store.set_attributes(message.project_id, message.job_id, exc.attributes)
        # A fresh copy, so that waiting for a slot does not count towards the dead-letter limit.
        self.clients.sqs.send_message(
            QueueUrl=self.settings.queue_url,
            MessageBody=message.to_body(),
            DelaySeconds=exc.delay_s,
        )
        self._delete(receipt)

    def _failed_attempt(
        self, message: JobMessage, receipt: str, receive_count: int, exc: Exception
    ) -> tuple[str, str]:
        reason = describe(exc)
        code = error_code(exc)
        classification = classify(exc)
        log.warning(
            "job attempt failed",
            exc_info=classification == "transient",
            extra={"classification": classification, "error_code": code, "reason": reason},
        )
        try:
            if classification == "permanent":
                self._finish(message, receipt, "failed", error={"code": code, "message": reason})
                return "failed", reason
            if receive_count >= self.settings.max_receive_count:
                text = f"gave up after {receive_count} attempts: {reason}"
                self.store.finish(
                    message.project_id,
                    message.job_id,
                    self.settings.runner_id,
                    self.clock(),
                    "failed",
                    error={"code": code, "message": text},
                )
                # Left on the queue: its next receive moves it to the dead-letter queue.
                self._hand_back(receipt, 0)
                return "failed", text
            delay = self.backoff.delay(receive_count)
            self.store.release(
                message.project_id,
                message.job_id,
                self.settings.runner_id,
                self.clock(),
                f"retrying after: {reason}",
            )
            self.store.set_attributes(
                message.project_id,
                message.job_id,
                {"last_error": {"code": code, "message": reason}},
            )
            self._hand_back(receipt, round(delay))
            return "retry", reason
        except LeaseLostError:
            return "lease_lost", reason

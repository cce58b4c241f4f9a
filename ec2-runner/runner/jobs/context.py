"""What a job handler receives (``JobContext``) and returns (``JobResult``).

A handler is ``handle(ctx: JobContext) -> JobResult``. It may raise the outcomes
of ``runner.errors`` (permanent, transient, deferred, cancelled, interrupted).
It should check ``ctx.stop`` at safe points in long work: it is set on a warm
stop of the runner, when the user asks to cancel, and when the lease was lost.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib import keys
from chalicelib.models.jobs import JobMessage, JobRecord
from runner.clients import RunnerClients
from runner.errors import JobCancelledError
from runner.ledger import Ledger
from runner.logging import current_fields, get_logger
from runner.settings import RunnerSettings

log = get_logger("runner.progress")

StopReason = Literal["shutdown", "cancel", "lease_lost"]

FinalStatus = Literal["succeeded", "planned", "cancelled"]


@dataclass
class JobResult:
    """A handler's outcome: written on the job item by the worker."""

    status: FinalStatus = "succeeded"
    result: dict[str, Any] = field(default_factory=dict)  # pointers: report_key, plan_key, ...
    summary: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # any other item attributes


Update = tuple[int, "str | None"]
# schedule(delay_s, fn) runs fn once after delay_s (in another thread) and returns
# something with .cancel(); threading.Timer by default, a fake in tests.
Schedule = Callable[[float, Callable[[], None]], Any]


def _timer(delay_s: float, fn: Callable[[], None]) -> threading.Timer:
    context = contextvars.copy_context()  # the job's log fields follow into the thread
    timer = threading.Timer(delay_s, context.run, args=(fn,))
    timer.daemon = True
    timer.start()
    return timer


class ProgressReporter:
    """Writes progress (0-100 and a short message) on the job item, at most once a second.

    An update that comes sooner is kept and written when the second is up (a trailing
    update), unless a newer one replaces it first: the item always ends up showing the
    latest update, and ``close()`` (when the handler returns) writes one still waiting.
    Completion (100) is written at once. Thread-safe; writes never overlap, so an older
    update can never land after a newer one.
    """

    def __init__(
        self,
        write: Callable[[int, str | None], None],
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = 1.0,
        schedule: Schedule = _timer,
    ):
        self._write = write
        self._clock = clock
        self._min_interval_s = min_interval_s
        self._schedule = schedule
        self._lock = threading.RLock()
        self._last_at: float | None = None
        self._last: Update | None = None  # the update on the item
        self._pending: Update | None = None  # the latest update, not written yet
        self._timer: Any = None
        self._closed = False

    def __call__(self, percent: int, message: str | None = None) -> None:
        update = (max(0, min(100, int(percent))), message)
        with self._lock:
            if self._closed:
                return
            if update == self._last:
                self._pending = None  # the item already shows the latest update
                return
            now = self._clock()
            if update[0] == 100 or self._due(now):
                self._deliver(update, now)
                return
            self._pending = update
            if self._timer is None:
                assert self._last_at is not None  # not due: something was written
                wait = self._last_at + self._min_interval_s - now
                self._timer = self._schedule(max(0.0, wait), self._on_timer)

    @property
    def pending(self) -> Update | None:
        """The update waiting for its turn (None when the item shows the latest)."""
        return self._pending

    def flush(self) -> None:
        """Write the waiting update now, whatever the interval."""
        with self._lock:
            if self._pending is not None:
                self._deliver(self._pending, self._clock())

    def close(self) -> None:
        """The handler is done: write the waiting update, then accept no more.

        Never raises (the job's outcome is decided elsewhere; a lost lease is seen by
        the heartbeat), so it can run on every path out of a handler."""
        with self._lock:
            try:
                self.flush()
            except Exception:
                log.warning("could not write the job's last progress", exc_info=True)
            finally:
                self._closed = True
                self._pending = None
                self._cancel_timer()

    def _due(self, now: float) -> bool:
        return self._last_at is None or now - self._last_at >= self._min_interval_s

    def _deliver(self, update: Update, now: float) -> None:
        self._cancel_timer()
        try:
            self._write(*update)
        except Exception:
            self._pending = update  # still the latest: the next update or close() retries
            raise
        self._pending = None
        self._last_at = now
        self._last = update

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed or self._pending is None:
                return
            now = self._clock()
            if not self._due(now):  # a newer write came in meanwhile: wait for its second
                assert self._last_at is not None
                wait = self._last_at + self._min_interval_s - now
                self._timer = self._schedule(max(0.0, wait), self._on_timer)
                return
            try:
                self._deliver(self._pending, now)
            except Exception:  # a lost lease is the heartbeat's to see
                log.warning("could not write a trailing progress update", exc_info=True)


class JobLogSink:
    """Collects a job's log lines and ships them to S3 in parts.

    Keys: ``logs/<project_id>/<job_id>/attempt-<n>/part-<0001>.log``; each part is
    indexed in runner.db. Thread-safe (Terraform output arrives from a reader thread).
    """

    def __init__(
        self,
        *,
        s3: Any,
        bucket: str,
        project_id: str,
        job_id: str,
        attempt: int,
        ledger: Ledger | None,
        clock: Callable[[], float] = time.time,
        max_buffer_bytes: int = 256 * 1024,
        max_age_s: float = 10.0,
    ):
        self._s3 = s3
        self._bucket = bucket
        self._project_id = project_id
        self._job_id = job_id
        self._attempt = attempt
        self._ledger = ledger
        self._clock = clock
        self._max_buffer_bytes = max_buffer_bytes
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._size = 0
        self._first_at: float | None = None
        self._part = 0
        self.keys: list[str] = []

    @property
    def prefix(self) -> str:
        return keys.attempt_logs_prefix(self._project_id, self._job_id, self._attempt)

    def write(self, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            if self._first_at is None:
                self._first_at = self._clock()
            self._lines.append(line)
            self._size += len(line.encode()) + 1
            due = (
                self._size >= self._max_buffer_bytes
                or self._clock() - self._first_at >= self._max_age_s
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._lines:
                return
            lines, self._lines = self._lines, []
            self._size = 0
            self._first_at = None
            self._part += 1
            key = keys.log_part_key(self._project_id, self._job_id, self._attempt, self._part)
            body = ("\n".join(lines) + "\n").encode()
            self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="text/plain; charset=utf-8"
            )
            self.keys.append(key)
        if self._ledger is not None:
            self._ledger.add_log_part(
                job_id=self._job_id,
                project_id=self._project_id,
                attempt=self._attempt,
                key=key,
                lines=len(lines),
                size_bytes=len(body),
                created_at=self._clock(),
            )


class StopSignal:
    """Set when a handler should stop at its next safe point, with the reason why."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: StopReason | None = None

    def set(self, reason: StopReason) -> None:
        if self.reason is None or reason == "cancel":
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        """For handlers that finish their work on a shutdown but honour a user's cancel."""
        if self.reason == "cancel":
            raise JobCancelledError("cancelled on request")


class SinkLogHandler(logging.Handler):
    """Copies the runner's own log lines about one job into that job's log sink."""

    def __init__(self, sink: JobLogSink, job_id: str):
        super().__init__(logging.INFO)
        self._sink = sink
        self._job_id = job_id

    def emit(self, record: logging.LogRecord) -> None:
        if current_fields().get("job_id") != self._job_id:
            return  # another job's or the runner's own line
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
            # The message only: tracebacks stay in the runner's own logs.
            self._sink.write(f"{stamp} {record.levelname} {record.getMessage()}")
        except Exception:
            self.handleError(record)


@dataclass
class JobContext:
    message: JobMessage
    job: JobRecord
    settings: RunnerSettings
    clients: RunnerClients
    ledger: Ledger
    progress: ProgressReporter
    log: JobLogSink
    stop: StopSignal
    attempt: int
    receive_count: int
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], object] = time.sleep
    # Extra collaborators for handlers (e.g. an injected analyzer in tests).
    services: dict[str, Any] = field(default_factory=dict)

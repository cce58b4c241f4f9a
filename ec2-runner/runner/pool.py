"""A bounded pool of job threads with slots by kind: Terraform jobs and the others.

One runner process runs up to ``terraform`` Terraform jobs (plan, apply, destroy) and
``general`` other jobs (analyses, snapshots) at once, each in its own thread (the
heavy work is a child process anyway: Terraform, or the analysis of one archive).
The worker loop asks for a slot before it receives a message and gives the message
back to the queue when the slot of its kind is taken. A slot here is this process's
limit; the DynamoDB semaphore (``runner.semaphore``) stays the limit across runners.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal

from runner.logging import get_logger

log = get_logger("runner.pool")

SlotKind = Literal["terraform", "general"]
TERRAFORM_KINDS = frozenset({"plan", "apply", "destroy"})


def slot_kind(job_kind: str) -> SlotKind:
    return "terraform" if job_kind in TERRAFORM_KINDS else "general"


class JobPool:
    """Threads for jobs, at most ``limits[kind]`` of each kind at once. Thread-safe."""

    def __init__(
        self,
        limits: Mapping[SlotKind, int],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if any(n < 1 for n in limits.values()):
            raise ValueError("limits: every kind needs at least one slot")
        self._limits: dict[SlotKind, int] = dict(limits)
        self._busy: dict[SlotKind, int] = dict.fromkeys(self._limits, 0)
        self._threads: set[threading.Thread] = set()
        self._cond = threading.Condition()
        self._monotonic = monotonic
        self._idle_since = monotonic()
        self.started = 0

    @property
    def limits(self) -> dict[SlotKind, int]:
        return dict(self._limits)

    def free(self, kind: SlotKind) -> int:
        with self._cond:
            return self._limits[kind] - self._busy[kind]

    def any_free(self) -> bool:
        with self._cond:
            return any(self._busy[k] < self._limits[k] for k in self._limits)

    def busy(self) -> int:
        with self._cond:
            return sum(self._busy.values())

    def idle_for(self) -> float:
        """Seconds since the last job ended (0 while one runs)."""
        with self._cond:
            if any(self._busy.values()):
                return 0.0
            return max(0.0, self._monotonic() - self._idle_since)

    def try_start(self, kind: SlotKind, name: str, target: Callable[[], None]) -> bool:
        """Run ``target`` in a new thread if a slot of ``kind`` is free; False if not.

        The thread carries the caller's context variables (the log fields)."""
        with self._cond:
            if self._busy[kind] >= self._limits[kind]:
                return False
            self._busy[kind] += 1
            self.started += 1
            context = contextvars.copy_context()
            thread = threading.Thread(
                target=context.run, args=(self._run, kind, target), name=name, daemon=True
            )
            self._threads.add(thread)
        thread.start()
        return True

    def _run(self, kind: SlotKind, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException:
            log.exception("job thread ended with an error")
        finally:
            with self._cond:
                self._busy[kind] -= 1
                self._threads.discard(threading.current_thread())
                if not any(self._busy.values()):
                    self._idle_since = self._monotonic()
                self._cond.notify_all()

    def wait_for_free(self, timeout: float) -> bool:
        """Block until a slot of any kind is free (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: any(self._busy[k] < self._limits[k] for k in self._limits), timeout
            )

    def wait_for_kind(self, kind: SlotKind, timeout: float) -> bool:
        """Block until a slot of ``kind`` is free (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy[kind] < self._limits[kind], timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not any(self._busy.values()), timeout)

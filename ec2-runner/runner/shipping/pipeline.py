"""The phases of a release in order, each with its log section and timing.

``ship`` runs build -> release command -> roll out -> verify through an executor and
tells a ``PhaseRecorder`` (the job item, in the runner) each phase as it starts and the
timings as they grow. A failure names its phase; once a candidate exists, a failure
discards it so that the previous release keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from runner.shipping import build, release_command, rollout, verify
from runner.shipping.executor import (
    Candidate,
    LogLine,
    PhaseCancelledError,
    PhaseFailedError,
    ReleaseExecutor,
    ReleaseSpec,
)

T = TypeVar("T")


class PhaseRecorder(Protocol):
    def enter(self, phase: str) -> None:
        """The deployment is now in ``phase`` (written on the job item)."""
        ...

    def timings(self, entries: list[dict[str, Any]]) -> None: ...


@dataclass
class Shipped:
    url: str
    timings: list[dict[str, Any]] = field(default_factory=list)


class ShipFailedError(Exception):
    """The release failed in ``phase``; the previous release (if any) still serves."""

    def __init__(self, cause: PhaseFailedError, timings: list[dict[str, Any]]) -> None:
        tail = cause.last_lines()
        super().__init__(cause.message + (f"\n{tail}" if tail else ""))
        self.phase = cause.phase
        self.message = cause.message
        self.last_lines = tail
        self.timings = timings


class ShipCancelledError(Exception):
    """A cancel arrived; the release stopped before ``phase`` (nothing of it serves)."""

    def __init__(self, phase: str, timings: list[dict[str, Any]]) -> None:
        super().__init__(f"cancelled before {phase}")
        self.phase = phase
        self.timings = timings


def ship(
    spec: ReleaseSpec,
    executor: ReleaseExecutor,
    check: verify.HealthCheck,
    recorder: PhaseRecorder,
    log: LogLine,
    clock: Callable[[], float],
    cancelled: Callable[[], bool] = lambda: False,
) -> Shipped:
    """Run the phases; a cancel is seen between steps (not inside an executor's step)."""
    timings: list[dict[str, Any]] = []
    current = {"phase": ""}

    def phase(name: str, step: Callable[[], T]) -> T:
        if cancelled():
            raise ShipCancelledError(name, timings)
        if current["phase"] != name:
            log(f"===== {name} =====")
            recorder.enter(name)
            current["phase"] = name
        started = clock()
        try:
            value = step()
        except PhaseFailedError as exc:
            if exc.phase != name:  # an executor that did several phases at once
                log(f"===== {exc.phase} =====")
                recorder.enter(exc.phase)
            timings.append(_timing(exc.phase, "failed", started, clock()))
            recorder.timings(timings)
            log(f"{exc.phase} failed: {exc.message}")
            if exc.log_tail:
                log(exc.last_lines())
            raise
        _add(timings, name, started, clock())
        recorder.timings(timings)
        return value

    try:
        candidate: Candidate = phase("building", lambda: build.run(executor, spec, log))
    except PhaseFailedError as exc:
        raise ShipFailedError(exc, timings) from None
    except PhaseCancelledError as exc:  # the executor stopped its own step (a build)
        raise ShipCancelledError(exc.phase, timings) from None
    try:
        phase("releasing", lambda: release_command.run(executor, spec, candidate, log))
        url = phase("verifying", lambda: rollout.run(executor, spec, candidate, log))
        phase("verifying", lambda: verify.run(check, url, spec.plan.health_path, log))
    except PhaseFailedError as exc:
        executor.discard(spec, candidate, log)
        log("the previous release (if any) keeps serving")
        raise ShipFailedError(exc, timings) from None
    except (ShipCancelledError, PhaseCancelledError) as exc:
        executor.discard(spec, candidate, log)
        log("cancelled: the previous release (if any) keeps serving")
        if isinstance(exc, PhaseCancelledError):
            raise ShipCancelledError(exc.phase, timings) from None
        raise
    if cancelled():
        executor.discard(spec, candidate, log)
        raise ShipCancelledError("live", timings)
    executor.keep(spec, candidate, log)
    return Shipped(url=url, timings=timings)


def _timing(phase: str, status: str, started: float, ended: float) -> dict[str, Any]:
    return {
        "phase": phase,
        "status": status,
        "started_at_epoch": round(started, 3),
        "duration_s": round(ended - started, 3),
    }


def _add(timings: list[dict[str, Any]], phase: str, started: float, ended: float) -> None:
    """One entry per phase: a phase run in several steps (roll-out + verify) adds up."""
    for entry in timings:
        if entry["phase"] == phase:
            entry["duration_s"] = round(entry["duration_s"] + ended - started, 3)
            return
    timings.append(_timing(phase, "succeeded", started, ended))

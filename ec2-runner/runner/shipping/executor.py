"""What an executor does for each phase, and what the phases hand each other."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chalicelib.models.plan import AppPlan
from runner.shipping.app_config import AppEnvironment

LogLine = Callable[[str], None]

PHASES = ("building", "releasing", "verifying")
"""The deployment phases of a release, in order (roll-out is reported as ``verifying``'s
first step: the new version is not serving traffic until it verified)."""


class PhaseFailedError(Exception):
    """A phase failed; ``phase`` is the deployment phase, ``log_tail`` the last output."""

    def __init__(self, phase: str, message: str, *, log_tail: str = "") -> None:
        if phase not in PHASES:
            raise ValueError(f"phase: {phase!r} is not one of {PHASES}")
        super().__init__(message)
        self.phase = phase
        self.message = message
        self.log_tail = log_tail

    def last_lines(self, count: int = 20) -> str:
        lines = [line for line in self.log_tail.splitlines() if line.strip()]
        return "\n".join(lines[-count:])


class PhaseCancelledError(Exception):
    """A cancel stopped the executor inside a step (it stopped what it had started)."""

    def __init__(self, phase: str) -> None:
        super().__init__(f"cancelled during {phase}")
        self.phase = phase


def _never() -> bool:
    return False


def _forget(build_id: str) -> None:
    return None


@dataclass(frozen=True)
class ReleaseSpec:
    """One release of one app plan onto one stack."""

    project_id: str
    stack: str
    release_id: str
    image_tag: str
    plan: AppPlan
    source_dir: Path
    """The extracted source upload (the archive's root)."""
    work_dir: Path
    """This release's own folder (the executor may keep files there while it serves)."""
    config: AppEnvironment = field(default_factory=AppEnvironment)
    """The user's config and secrets (``runner.shipping.app_config``): never logged."""
    build_files: Mapping[str, str] = field(default_factory=dict)
    """The bundle's own build files (Dockerfile, .dockerignore) by path in the source."""
    previous_image_tag: str | None = None
    """The image of the release serving now (None: the first release)."""
    cancelled: Callable[[], bool] = _never
    """True once the job is cancelled (an executor may stop a long step early)."""
    build_started: Callable[[str], None] = _forget
    """Called with the CodeBuild build id as soon as StartBuild answers: the release record
    keeps it, so that a restarted runner stops a build its killed predecessor started."""


@dataclass
class Candidate:
    """What a build made: the new version, not yet serving traffic."""

    release_id: str
    url: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    handle: Any = None
    """The executor's own handle (a running process group, a task definition ARN...)."""


class ReleaseExecutor(Protocol):
    """Runs the phases of a release for one kind of target.

    Each method raises ``PhaseFailedError`` naming its phase. ``discard`` must leave the
    previous release serving; ``keep`` retires it once the candidate verified."""

    name: str

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate: ...

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None: ...

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        """Start the candidate beside (or in place of) the previous release; its URL."""
        ...

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None: ...

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None: ...

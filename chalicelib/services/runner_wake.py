"""Wake the runner when work arrives: the API starts its stopped instance.

The runner stops its own instance after an idle period (ec2-runner/runner/chores.py,
``IdleStop``). The API already sends every job's message, so it is the cheapest
place to start the instance again within seconds: no extra function, schedule or
queue trigger. After a job is queued, ``wake_for_job`` calls EC2's StartInstances
when the instance is stopped. The instance's state is cached per Lambda container
(a minute while it runs, a few seconds otherwise), so an awake runner costs no EC2
call per request. The daily backup queues a snapshot job, so it wakes the runner too.

``AUTOSTACK_RUNNER_INSTANCE_ID`` unset (the local stack, tests without EC2): there is
no instance to wake and every function here does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.context import AppContext

log = logging.getLogger("autostack-api")

AWAKE = "running"
STARTING_STATES = frozenset({"pending"})
ASLEEP_STATES = frozenset({"stopping", "stopped"})
# StartInstances to the runner's first poll in AWS (instance boot, systemd, the runner's
# start; cloud-init reinstalls nothing on later boots): an estimate, not measured in AWS.
# Locally the runner process starts and polls in ~8 s (bench/bench_runner_wake.py). The
# views say "about N s" from it; scripts/cost_report.py bills each wake-up for it.
RUNNER_BOOT_ESTIMATE_S = 60.0
RUNNING_CACHE_S = 60.0  # an awake runner: one DescribeInstances a minute per container
OTHER_CACHE_S = 5.0  # starting or asleep: look again soon

_cache: dict[str, tuple[str, float]] = {}  # instance id -> (state, monotonic time read)
_cache_lock = threading.Lock()


class RunnerWake:
    """The runner instance's state (cached) and starting it."""

    def __init__(
        self,
        ec2: Any,
        instance_id: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        cache: dict[str, tuple[str, float]] | None = None,
    ) -> None:
        self._ec2 = ec2
        self.instance_id = instance_id
        self._monotonic = monotonic
        self._cache = _cache if cache is None else cache
        self.calls = 0  # EC2 calls made (the benchmark and tests read it)

    def state(self) -> str:
        """running, pending, stopping, stopped, ... (cached; read from EC2 when stale)."""
        now = self._monotonic()
        with _cache_lock:
            cached = self._cache.get(self.instance_id)
        if cached is not None:
            state, read_at = cached
            ttl = RUNNING_CACHE_S if state == AWAKE else OTHER_CACHE_S
            if now - read_at < ttl:
                return state
        return self._describe()

    def _describe(self) -> str:
        self.calls += 1
        response = self._ec2.describe_instances(InstanceIds=[self.instance_id])
        instances = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
        state = instances[0]["State"]["Name"] if instances else "unknown"
        self._remember(state)
        return state

    def _remember(self, state: str) -> None:
        with _cache_lock:
            self._cache[self.instance_id] = (state, self._monotonic())

    def ensure_awake(self) -> str:
        """Start the instance if it is stopped; return its state ("pending" once started).

        A stopping instance cannot be started yet: its job waits in the queue, and the
        next job view (``job_view_note``) starts it once it has stopped."""
        state = self.state()
        if state != "stopped":
            return state
        self.calls += 1
        response = self._ec2.start_instances(InstanceIds=[self.instance_id])
        changes = response.get("StartingInstances", [])
        state = changes[0]["CurrentState"]["Name"] if changes else "pending"
        self._remember(state)
        log.info("runner instance started", extra={"instance_id": self.instance_id})
        return state


def for_context(ctx: AppContext) -> RunnerWake | None:
    instance_id = ctx.settings.runner_instance_id
    if not instance_id:
        return None
    return RunnerWake(ctx.aws.client("ec2"), instance_id)


def wake_for_job(ctx: AppContext) -> str | None:
    """After a job was queued: start the runner if it sleeps. Never raises (the job is
    queued whatever happens; a failure is logged and the next job view tries again)."""
    wake = for_context(ctx)
    if wake is None:
        return None
    try:
        return wake.ensure_awake()
    except Exception as exc:
        log.warning(
            "could not wake the runner",
            extra={"instance_id": wake.instance_id, "error": type(exc).__name__},
        )
        return None


def runner_state(ctx: AppContext) -> str | None:
    """The instance's state without starting it (None: no instance, or unreadable)."""
    wake = for_context(ctx)
    if wake is None:
        return None
    try:
        return wake.state()
    except Exception as exc:
        log.warning("could not read the runner's state", extra={"error": type(exc).__name__})
        return None


def job_view_note(ctx: AppContext) -> str | None:
    """For a queued job's view: wake the runner if needed; "runner starting" unless it runs."""
    state = wake_for_job(ctx)
    if state is None or state == AWAKE:
        return None
    return "runner starting"

"""Wake the runner when work arrives: the API starts its stopped instance.

The runner stops its own instance after an idle period (ec2-runner/runner/chores.py,
``IdleStop``). The API already sends every job's message, so it is the cheapest
place to start the instance again within seconds: no extra function, schedule or
queue trigger. After a job is queued, ``wake_for_job`` calls EC2's StartInstances
when the instance is stopped. The instance's state is cached per Lambda container
(a minute while it runs, a few seconds otherwise), so an awake runner costs no EC2
call per request. The daily backup queues a snapshot job, so it wakes the runner too.

Starting: StartInstances is recorded (one item, ``RUNNER_WAKE``/``LAST``, the time of
the call); until a runner heartbeat newer than it arrives, /health and the views of a
queued job say "the runner is starting (about N s)" rather than looking stuck (the
instance shows "running" within seconds, the runner's first heartbeat comes about a
boot later). After ``STARTING_WINDOW_S`` without a heartbeat it is no longer "starting":
/health reports the runner stale as before.

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
# Locally the wake call, the runner process start and its claim take 2-9 s (median 4.5 s,
# bench/bench_runner_wake.py --skip-memory). The views say "about N s" from it;
# scripts/cost_report.py bills each wake-up for it.
RUNNER_BOOT_ESTIMATE_S = 60.0
# A wake this old with still no heartbeat is a problem, not a boot.
STARTING_WINDOW_S = 5 * RUNNER_BOOT_ESTIMATE_S
WAKE_PK = "RUNNER_WAKE"  # not RUNNERS: that partition holds only heartbeats
WAKE_SK = "LAST"
WAKE_KEPT_S = 86400  # the item's TTL (expires_at)
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
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self._ec2 = ec2
        self.instance_id = instance_id
        self._monotonic = monotonic
        self._cache = _cache if cache is None else cache
        self._on_started = on_started  # records the wake (record_wake)
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
        if self._on_started is not None:
            try:
                self._on_started()
            except Exception as exc:  # the instance starts anyway; only the note is lost
                log.warning("could not record the wake", extra={"error": type(exc).__name__})
        return state


def for_context(ctx: AppContext) -> RunnerWake | None:
    instance_id = ctx.settings.runner_instance_id
    if not instance_id:
        return None
    return RunnerWake(
        ctx.aws.client("ec2"), instance_id, on_started=lambda: record_wake(ctx, ctx.clock())
    )


def record_wake(ctx: AppContext, at: float) -> None:
    """Remember when StartInstances was called (the views' "starting" reads it)."""
    ctx.aws.dynamodb.put_item(
        TableName=ctx.settings.table,
        Item={
            "pk": {"S": WAKE_PK},
            "sk": {"S": WAKE_SK},
            "at": {"N": repr(float(at))},
            "expires_at": {"N": str(int(at + WAKE_KEPT_S))},
        },
    )


def last_wake(ctx: AppContext) -> float | None:
    """When StartInstances was last called, or None."""
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table,
        Key={"pk": {"S": WAKE_PK}, "sk": {"S": WAKE_SK}},
        ConsistentRead=True,
    ).get("Item")
    return float(item["at"]["N"]) if item and "at" in item else None


def starting_message(
    woken_at: float | None, newest_heartbeat_at: float | None, now: float
) -> str | None:
    """ "the runner is starting (about N s)" while a wake has no heartbeat after it yet;
    None when there was no wake, a runner has beaten since, or the wake is too old."""
    if woken_at is None:
        return None
    if newest_heartbeat_at is not None and newest_heartbeat_at >= woken_at:
        return None
    elapsed = max(0.0, now - woken_at)
    if elapsed > STARTING_WINDOW_S:
        return None
    left = RUNNER_BOOT_ESTIMATE_S - elapsed
    if left < 5:
        return f"the runner is starting (taking longer than the usual {RUNNER_BOOT_ESTIMATE_S:g} s)"
    return f"the runner is starting (about {left:.0f} s)"


def pending_message() -> str:
    """The instance itself is still pending: a whole boot is ahead."""
    return f"the runner is starting (about {RUNNER_BOOT_ESTIMATE_S:g} s)"


def starting_status(ctx: AppContext, newest_heartbeat_at: float | None) -> str | None:
    """The "starting" message from the recorded wake and the newest heartbeat, or None
    (no instance to wake, no recent wake, or unreadable)."""
    if not ctx.settings.runner_instance_id:
        return None
    try:
        woken = last_wake(ctx)
    except Exception as exc:
        log.warning("could not read the runner's wake", extra={"error": type(exc).__name__})
        return None
    return starting_message(woken, newest_heartbeat_at, ctx.clock())


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
    """For a queued job's view: wake the runner if needed, and say "the runner is starting
    (about N s)" while it is not running or has not sent a heartbeat since its wake."""
    state = wake_for_job(ctx)
    if state is None:
        return None
    if state != AWAKE:
        return pending_message()
    woken = _recent_wake(ctx)
    if woken is None:
        return None  # up for a while: the job is simply next in line
    try:
        beats = ctx.stores.runners.heartbeats()
    except Exception:
        return None
    newest = max((b.at for b in beats), default=None)
    return starting_message(woken, newest, ctx.clock())


def _recent_wake(ctx: AppContext) -> float | None:
    try:
        woken = last_wake(ctx)
    except Exception:
        return None
    if woken is None or ctx.clock() - woken > STARTING_WINDOW_S:
        return None
    return woken

"""The runner's settings, read once from the environment and checked at start."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

MAX_UPLOAD_BYTES_DEFAULT = 10 * 1024 * 1024


class SettingsError(ValueError):
    """A missing or malformed setting; the message names the environment variable."""


@dataclass(frozen=True)
class RunnerSettings:
    stage: str
    table: str
    bucket: str
    queue_url: str
    dlq_url: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    runner_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    runner_db: Path = Path("/var/lib/autostack/runner.db")
    work_dir: Path = Path("/var/lib/autostack/work")
    # SQS / lease timing. The heartbeat renews both well before they run out.
    wait_time_s: int = 20
    visibility_timeout_s: int = 120
    lease_s: int = 110  # from the environment: visibility - 10 unless set
    heartbeat_interval_s: float = 30.0
    max_receive_count: int = 3
    # Background chores.
    runner_heartbeat_interval_s: float = 30.0
    capacity_sample_interval_s: float = 60.0
    dlq_sweep_interval_s: float = 300.0
    # Retries of transient failures: capped exponential backoff with full jitter.
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_upload_bytes: int = MAX_UPLOAD_BYTES_DEFAULT
    log_level: str = "INFO"
    # Test stage only: each analyze job sleeps this long (so tests can kill a runner mid-job).
    test_job_delay_s: float = 0.0
    # Jobs at once in this process: Terraform jobs (plan/apply/destroy; the API's
    # AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS, also the semaphore's global limit) and the
    # others (analyses, snapshots) beside them.
    terraform_slots: int = 2
    general_slots: int = 1
    # A job whose kind has no free slot here goes back to the queue, delayed this long
    # (an analysis or snapshot first waits this long for its slot).
    busy_requeue_s: int = 5
    # Idle stop: with no job running or queued for this long, the runner stops its own
    # instance (0: never). Only when the instance id is known (setting, or IMDS in prod).
    idle_stop_s: float = 180.0  # docs/deploy.md "The monthly bill": cost vs. boot wait
    instance_id: str | None = None

    @property
    def job_delay_s(self) -> float:
        """The injected job delay, honoured only in the test stage."""
        return self.test_job_delay_s if self.stage == "test" else 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunnerSettings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        stage = reader.required("AUTOSTACK_STAGE")
        if stage not in ("local", "test", "prod"):
            raise SettingsError(f"AUTOSTACK_STAGE must be local, test or prod, not {stage!r}")
        defaults = cls(stage=stage, table="", bucket="", queue_url="", dlq_url="")
        settings = cls(
            stage=stage,
            table=reader.required("AUTOSTACK_TABLE"),
            bucket=reader.required("AUTOSTACK_BUCKET"),
            queue_url=reader.required("AUTOSTACK_QUEUE_URL"),
            dlq_url=reader.required("AUTOSTACK_DLQ_URL"),
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or defaults.region,
            runner_id=env.get("AUTOSTACK_RUNNER_ID") or defaults.runner_id,
            runner_db=Path(env.get("AUTOSTACK_RUNNER_DB") or defaults.runner_db),
            work_dir=Path(env.get("AUTOSTACK_RUNNER_WORK_DIR") or defaults.work_dir),
            wait_time_s=reader.integer("AUTOSTACK_RUNNER_WAIT_S", defaults.wait_time_s, 0, 20),
            visibility_timeout_s=reader.integer(
                "AUTOSTACK_RUNNER_VISIBILITY_S", defaults.visibility_timeout_s, 1, 43200
            ),
            lease_s=0,  # set below: it depends on the visibility timeout
            heartbeat_interval_s=reader.number(
                "AUTOSTACK_RUNNER_HEARTBEAT_S", defaults.heartbeat_interval_s, 0.05
            ),
            max_receive_count=reader.integer(
                "AUTOSTACK_MAX_RECEIVE_COUNT", defaults.max_receive_count, 1, 1000
            ),
            runner_heartbeat_interval_s=reader.number(
                "AUTOSTACK_RUNNER_STATUS_S", defaults.runner_heartbeat_interval_s, 0.05
            ),
            capacity_sample_interval_s=reader.number(
                "AUTOSTACK_RUNNER_CAPACITY_S", defaults.capacity_sample_interval_s, 0.05
            ),
            dlq_sweep_interval_s=reader.number(
                "AUTOSTACK_RUNNER_DLQ_SWEEP_S", defaults.dlq_sweep_interval_s, 0.05
            ),
            backoff_base_s=reader.number(
                "AUTOSTACK_RUNNER_BACKOFF_BASE_S", defaults.backoff_base_s, 0.0
            ),
            backoff_cap_s=reader.number(
                "AUTOSTACK_RUNNER_BACKOFF_CAP_S", defaults.backoff_cap_s, 0
            ),
            max_upload_bytes=reader.integer(
                "AUTOSTACK_MAX_UPLOAD_BYTES", defaults.max_upload_bytes, 1, 1 << 40
            ),
            log_level=(env.get("AUTOSTACK_LOG_LEVEL") or defaults.log_level).upper(),
            test_job_delay_s=reader.number("AUTOSTACK_RUNNER_TEST_JOB_DELAY_S", 0.0, 0.0),
            terraform_slots=reader.integer(
                "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS", defaults.terraform_slots, 1, 16
            ),
            general_slots=reader.integer(
                "AUTOSTACK_RUNNER_GENERAL_SLOTS", defaults.general_slots, 1, 16
            ),
            busy_requeue_s=reader.integer(
                "AUTOSTACK_RUNNER_BUSY_REQUEUE_S", defaults.busy_requeue_s, 0, 900
            ),
            idle_stop_s=reader.number("AUTOSTACK_RUNNER_IDLE_STOP_S", defaults.idle_stop_s, 0.0),
            instance_id=(env.get("AUTOSTACK_RUNNER_INSTANCE_ID") or "").strip() or None,
        )
        # By default the lease runs out a little before the message reappears, so the runner
        # that receives a dead runner's message can take the job over at once.
        lease_default = max(1, settings.visibility_timeout_s - 10)
        settings = replace(
            settings,
            lease_s=reader.integer("AUTOSTACK_RUNNER_LEASE_S", lease_default, 1, 86400),
        )
        if settings.heartbeat_interval_s >= settings.visibility_timeout_s:
            raise SettingsError(
                "AUTOSTACK_RUNNER_HEARTBEAT_S must be shorter than AUTOSTACK_RUNNER_VISIBILITY_S"
            )
        if settings.heartbeat_interval_s >= settings.lease_s:
            raise SettingsError(
                "AUTOSTACK_RUNNER_HEARTBEAT_S must be shorter than AUTOSTACK_RUNNER_LEASE_S"
            )
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def required(self, name: str) -> str:
        value = self._env.get(name, "").strip()
        if not value:
            raise SettingsError(f"missing setting: {name} is required")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
        return value

    def number(self, name: str, default: float, low: float) -> float:
        raw = self._env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw!r}") from None
        if not value >= low:  # also rejects NaN
            raise SettingsError(f"{name} must be at least {low}, not {raw}")
        return value

"""Pure logic of the runner: settings, backoff, retention, the ledger, messages, logs."""

from __future__ import annotations

import io
import json
import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.models.jobs import InvalidJobMessageError, JobMessage, JobRecord
from runner.backup import Snapshot, parse_snapshot_key, retention_plan, snapshot_key
from runner.errors import PermanentJobError, TransientJobError, classify
from runner.jobs.context import JobLogSink, ProgressReporter
from runner.ledger import SCHEMA_VERSION, Ledger, LedgerError
from runner.logging import JsonFormatter, job_context
from runner.settings import RunnerSettings, SettingsError
from runner.worker import Backoff

BASE_ENV = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "b",
    "AUTOSTACK_QUEUE_URL": "http://q",
    "AUTOSTACK_DLQ_URL": "http://dlq",
}


@pytest.mark.parametrize("missing", sorted(BASE_ENV))
def test_settings_name_the_missing_variable(missing: str) -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        RunnerSettings.from_env(env)


def test_settings_defaults_and_overrides() -> None:
    settings = RunnerSettings.from_env(
        BASE_ENV
        | {
            "AUTOSTACK_RUNNER_ID": "r1",
            "AUTOSTACK_RUNNER_VISIBILITY_S": "5",
            "AUTOSTACK_RUNNER_LEASE_S": "5",
            "AUTOSTACK_RUNNER_HEARTBEAT_S": "1",
            "AUTOSTACK_RUNNER_TEST_JOB_DELAY_S": "2.5",
        }
    )
    assert settings.runner_id == "r1"
    assert settings.wait_time_s == 20
    assert settings.visibility_timeout_s == 5
    assert settings.lease_s == 5
    assert settings.job_delay_s == 2.5
    prod = RunnerSettings.from_env(BASE_ENV | {"AUTOSTACK_STAGE": "prod"})
    assert prod.runner_id  # hostname-pid
    assert prod.job_delay_s == 0.0  # the test delay is never honoured outside the test stage
    assert (prod.visibility_timeout_s, prod.lease_s) == (120, 110)
    longer = RunnerSettings.from_env(BASE_ENV | {"AUTOSTACK_RUNNER_VISIBILITY_S": "900"})
    assert longer.lease_s == 890


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTOSTACK_RUNNER_WAIT_S", "25"),
        ("AUTOSTACK_RUNNER_VISIBILITY_S", "soon"),
        ("AUTOSTACK_RUNNER_HEARTBEAT_S", "500"),
        ("AUTOSTACK_RUNNER_BACKOFF_BASE_S", "nan"),
        ("AUTOSTACK_STAGE", "staging"),
    ],
)
def test_settings_reject_bad_values_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        RunnerSettings.from_env(BASE_ENV | {name: value})


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_capped_and_jittered_within_half_to_full(attempt: int, seed: int) -> None:
    backoff = Backoff(0.5, 30.0, random.Random(seed))
    ceiling = min(30.0, 0.5 * 2 ** min(attempt, 30))
    delay = backoff.delay(attempt)
    assert ceiling / 2 <= delay <= ceiling


def _snap(at: datetime) -> Snapshot:
    return Snapshot(snapshot_key(at), at)


def test_snapshot_keys_round_trip() -> None:
    at = datetime(2026, 11, 26, 3, 4, 5, 678000, tzinfo=UTC)
    key = snapshot_key(at)
    assert key.startswith("backups/runner/2026/11/26/runner-20261126T030405")
    assert parse_snapshot_key(key) == at
    assert parse_snapshot_key("backups/runner/2026/11/26/other.db.gz") is None


def test_retention_keeps_seven_dailies_and_four_weeklies() -> None:
    start = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)  # a Saturday
    snaps = [_snap(start + timedelta(days=d)) for d in range(60)]
    snaps.append(_snap(start + timedelta(days=59, hours=-1)))  # an earlier one on the last day
    keep, delete = retention_plan(snaps)
    kept_days = sorted(s.taken_at.date() for s in keep)
    newest = (start + timedelta(days=59)).date()
    dailies = [newest - timedelta(days=d) for d in range(7)]
    assert set(dailies) <= set(kept_days)
    weeklies = sorted(set(kept_days) - set(dailies))
    assert len(weeklies) == 4
    # Each weekly is the newest remaining day of its ISO week (a Sunday, or the day
    # before the dailies begin), one per week.
    assert len({d.isocalendar()[:2] for d in weeklies}) == 4
    for day in weeklies:
        assert day.isoweekday() == 7 or day == min(dailies) - timedelta(days=1)
    assert len(keep) == 11 and len(keep) + len(delete) == len(snaps)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400 * 24), min_size=0, max_size=60))
def test_retention_properties(hours: list[int]) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    snaps = [_snap(base + timedelta(hours=h)) for h in set(hours)]
    keep, delete = retention_plan(snaps)
    assert {s.key for s in keep}.isdisjoint(s.key for s in delete)
    assert len(keep) + len(delete) == len(snaps)
    assert len(keep) <= 11
    if snaps:
        assert max(snaps, key=lambda s: s.taken_at) in keep  # the newest is never deleted
    assert len({s.taken_at.date() for s in keep}) == len(keep)  # at most one per day


def test_ledger_migrates_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "runner.db"
    ledger = Ledger(path)
    attempt_id = ledger.start_attempt(
        job_id="j",
        project_id="p",
        kind="analyze",
        attempt=1,
        runner_id="r",
        request_id="q",
        receive_count=1,
        started_at=100.0,
        queue_wait_s=0.5,
    )
    ledger.end_attempt(attempt_id, ended_at=102.5, outcome="succeeded")
    ledger.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_ledger_records_attempt_durations(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "runner.db")
    attempt_id = ledger.start_attempt(
        job_id="j",
        project_id="p",
        kind="snapshot",
        attempt=2,
        runner_id="r",
        request_id=None,
        receive_count=2,
        started_at=10.0,
        queue_wait_s=None,
    )
    ledger.end_attempt(attempt_id, ended_at=12.25, outcome="failed", error="boom")
    (attempt,) = ledger.attempts_for("j")
    assert (attempt.attempt, attempt.outcome, attempt.error, attempt.run_s) == (
        2,
        "failed",
        "boom",
        2.25,
    )
    assert ledger.record_dead_letter(
        message_id="m", job_id="j", project_id="p", seen_at=1.0, reason="x"
    )
    assert not ledger.record_dead_letter(
        message_id="m", job_id="j", project_id="p", seen_at=2.0, reason="x"
    )


def test_job_message_round_trip_and_poison_identity() -> None:
    message = JobMessage(job_id="j1", project_id="p1", kind="analyze", request_id="r")
    assert JobMessage.from_body(message.to_body()) == message
    with pytest.raises(InvalidJobMessageError) as bad_kind:
        JobMessage.from_body(json.dumps({"job_id": "j1", "project_id": "p1", "kind": "rm -rf"}))
    assert (bad_kind.value.job_id, bad_kind.value.project_id) == ("j1", "p1")
    assert "kind" in bad_kind.value.reason
    nested = "[" * 100_000 + "]" * 100_000
    for body in (
        "{",
        "[]",
        nested,
        json.dumps({"job_id": "../x", "project_id": "p", "kind": "analyze"}),
    ):
        with pytest.raises(InvalidJobMessageError):
            JobMessage.from_body(body)
    with pytest.raises(InvalidJobMessageError, match="schema_version"):
        JobMessage.from_body(
            json.dumps({"schema_version": 2, "job_id": "a", "project_id": "b", "kind": "plan"})
        )


def test_job_record_timings_and_decimals() -> None:
    from decimal import Decimal

    record = JobRecord.from_item(
        {
            "job_id": "j",
            "project_id": "p",
            "kind": "analyze",
            "status": "succeeded",
            "created_at_epoch": Decimal("100.5"),
            "started_at_epoch": Decimal("101"),
            "finished_at_epoch": Decimal("103.25"),
            "attempts": Decimal("1"),
        }
    )
    assert record.attempts == 1 and record.is_terminal
    assert record.timings() == {"queued_s": 0.5, "running_s": 2.25}


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


def test_error_classification() -> None:
    assert classify(PermanentJobError("x")) == "permanent"
    assert classify(TransientJobError("x")) == "transient"
    assert classify(_client_error("SlowDown", 503)) == "transient"
    assert classify(_client_error("ProvisionedThroughputExceededException", 400)) == "transient"
    assert classify(_client_error("AccessDenied", 403)) == "permanent"
    assert classify(EndpointConnectionError(endpoint_url="http://x")) == "transient"
    assert classify(ValueError("bad")) == "permanent"
    assert classify(OSError("disk full")) == "transient"


def test_progress_reporter_throttles_but_always_reports_completion() -> None:
    writes: list[tuple[int, str | None]] = []
    now = [0.0]
    progress = ProgressReporter(lambda p, m: writes.append((p, m)), clock=lambda: now[0])
    progress(10, "a")
    progress(20, "b")  # too soon
    now[0] = 1.5
    progress(30, "c")
    progress(100, "done")  # completion is never dropped
    progress(150, "done")  # clamped, and a repeat
    assert writes == [(10, "a"), (30, "c"), (100, "done")]


class _FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = Body


def test_log_sink_ships_parts_under_the_job_prefix() -> None:
    s3 = _FakeS3()
    sink = JobLogSink(
        s3=s3, bucket="b", project_id="p", job_id="j", attempt=2, ledger=None, max_buffer_bytes=10
    )
    sink.write("first line that is long")
    sink.write("second")
    sink.flush()
    sink.flush()  # nothing buffered: no empty part
    assert list(s3.objects) == [
        "logs/p/j/attempt-2/part-0001.log",
        "logs/p/j/attempt-2/part-0002.log",
    ]
    assert s3.objects["logs/p/j/attempt-2/part-0002.log"] == b"second\n"


def test_json_log_lines_carry_the_job_and_request_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("runner.test-json")
    logger.addHandler(handler)
    logger.setLevel("INFO")
    logger.propagate = False
    with job_context(job_id="j1", request_id="req-9"):
        logger.info("hello", extra={"attempt": 2})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {"level", "location", "message", "timestamp", "service"} <= set(first)
    assert (first["job_id"], first["request_id"], first["attempt"]) == ("j1", "req-9", 2)
    assert first["timestamp"].endswith("+0000") and first["timestamp"][10] == " "
    assert "job_id" not in second


def test_registry_finds_handlers_by_convention_and_refuses_unknown_kinds() -> None:
    from runner.jobs import analyze, snapshot
    from runner.jobs.registry import HandlerRegistry

    registry = HandlerRegistry()
    assert registry.resolve("analyze") is analyze.handle
    assert registry.resolve("snapshot") is snapshot.handle
    for kind in ("no_such_kind", "../etc", "os.path"):
        with pytest.raises(PermanentJobError) as refused:
            registry.resolve(kind)
        assert refused.value.code == "unknown_kind"


def test_stop_signal_keeps_a_cancel_over_a_shutdown() -> None:
    from runner.errors import JobCancelledError
    from runner.jobs.context import StopSignal

    stop = StopSignal()
    assert not stop.is_set() and not stop.wait(0)
    stop.set("shutdown")
    stop.raise_if_cancelled()  # a shutdown lets the handler finish
    stop.set("cancel")
    stop.set("lease_lost")
    assert stop.reason == "cancel"
    with pytest.raises(JobCancelledError):
        stop.raise_if_cancelled()


def test_sink_log_handler_copies_only_this_jobs_lines() -> None:
    from runner.jobs.context import SinkLogHandler

    s3 = _FakeS3()
    sink = JobLogSink(s3=s3, bucket="b", project_id="p", job_id="j1", attempt=1, ledger=None)
    logger = logging.getLogger("runner.test-sink")
    logger.setLevel("INFO")
    handler = SinkLogHandler(sink, "j1")
    logger.addHandler(handler)
    try:
        with job_context(job_id="j1"):
            logger.info("mine")
        with job_context(job_id="j2"):
            logger.info("another job's")
        logger.info("the runner's own")
    finally:
        logger.removeHandler(handler)
    sink.flush()
    (body,) = s3.objects.values()
    assert body.decode().splitlines()[0].endswith("INFO mine")
    assert len(body.decode().splitlines()) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["job_id", "project_id", "kind", "payload", "schema_version", "x"]
                    ),
                    children,
                    max_size=6,
                )
            ),
            max_leaves=12,
        ).map(json.dumps),
    )
)
def test_hostile_message_bodies_only_ever_raise_invalid_job_message(body: str) -> None:
    try:
        message = JobMessage.from_body(body)
    except InvalidJobMessageError as exc:
        assert exc.reason
        return
    assert message.kind in ("analyze", "plan", "apply", "destroy", "snapshot")

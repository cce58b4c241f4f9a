"""`python -m runner restore` refuses while a runner uses the same runner.db (unless --force),
and a second `run` on the same runner.db refuses to start."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runner_harness import client

from devtools.local_resources import LocalResources
from runner.__main__ import EXIT_DB_BUSY, main
from runner.backup import take_snapshot
from runner.db_lock import lock_path
from runner.ledger import Ledger

ROOT = Path(__file__).resolve().parents[3]


def _dead_letters(db: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT job_id FROM dead_letters").fetchall()
    finally:
        conn.close()


def test_restore_refuses_under_a_live_runner_unless_forced(
    local_resources: LocalResources,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = Ledger(tmp_path / "source.db")
    source.record_dead_letter(message_id="m1", job_id="j1", project_id="p", seen_at=1.0, reason="r")
    take_snapshot(source, client(local_resources, "s3"), local_resources.bucket, work_dir=tmp_path)
    source.close()

    target = tmp_path / "state" / "runner.db"
    env = {
        **local_resources.environment(),
        "AUTOSTACK_STAGE": "test",
        "AUTOSTACK_RUNNER_DB": str(target),
        "AUTOSTACK_RUNNER_WORK_DIR": str(tmp_path / "work"),
        "AUTOSTACK_RUNNER_WAIT_S": "1",
        "AUTOSTACK_RUNNER_ID": "runner-lock-test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def start_runner() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "runner", "run"],
            cwd=ROOT / "ec2-runner",
            env={**os.environ, "PYTHONPATH": ""},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    runner = start_runner()
    try:
        ddb = client(local_resources, "dynamodb")
        heartbeat_key = {"pk": {"S": "RUNNERS"}, "sk": {"S": "RUNNER#runner-lock-test"}}
        deadline = time.monotonic() + 30
        # Up: its heartbeat is written (so runner.db is open and SIGTERM is a warm stop).
        while "Item" not in ddb.get_item(TableName=local_resources.table, Key=heartbeat_key):
            assert runner.poll() is None, runner.stderr.read() if runner.stderr else ""
            assert time.monotonic() < deadline, "the runner never started"
            time.sleep(0.05)
        assert lock_path(target).read_text().strip() == str(runner.pid)

        # A restore under it is refused and changes nothing.
        assert main(["restore"]) == EXIT_DB_BUSY
        refused = capsys.readouterr().err
        assert f"in use by process {runner.pid}" in refused and "--force" in refused
        assert _dead_letters(target) == []

        # So is a second runner on the same file.
        second = start_runner()
        _, second_err = second.communicate(timeout=60)
        assert second.returncode == EXIT_DB_BUSY
        assert f"in use by process {runner.pid}".encode() in second_err
        assert runner.poll() is None

        # --force restores anyway, and says what that means.
        assert main(["restore", "--force"]) == 0
        forced = capsys.readouterr()
        assert "restoring anyway" in forced.err and "restored" in forced.out
        assert _dead_letters(target) == [("j1",)]
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(timeout=30)
        err = runner.stderr.read().decode() if runner.stderr else ""
        assert code == 0, err[-3000:]

    # The runner is stopped: a plain restore goes ahead, and leaves the lock free.
    assert main(["restore"]) == 0
    assert "restored" in capsys.readouterr().out
    assert lock_path(target).read_text() == ""

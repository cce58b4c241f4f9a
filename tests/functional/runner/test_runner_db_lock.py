"""runner.db's lock: one process at a time, never stale, never inherited by children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.db_lock import RunnerDbBusyError, RunnerDbLock, lock_path

_HOLD = """
import sys, time
from pathlib import Path
from runner.db_lock import RunnerDbLock
lock = RunnerDbLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def _child_holding(db: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_the_holder_writes_its_pid_and_a_second_taker_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state" / "runner.db"  # the folder does not exist yet
    first = RunnerDbLock(db).acquire()
    assert first.held
    assert lock_path(db).read_text() == f"{os.getpid()}\n"
    assert oct(lock_path(db).stat().st_mode & 0o777) == "0o600"

    with pytest.raises(RunnerDbBusyError) as refused:
        RunnerDbLock(db).acquire()  # another open file: flock conflicts even in one process
    assert refused.value.holder_pid == os.getpid()
    assert str(db) in str(refused.value) and str(os.getpid()) in str(refused.value)

    first.release()
    with RunnerDbLock(db) as second:
        assert second.held
    assert not second.held
    assert lock_path(db).read_text() == ""  # released: no pid left behind


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "runner.db"
    child = _child_holding(db)
    try:
        with pytest.raises(RunnerDbBusyError) as refused:
            RunnerDbLock(db).acquire()
        assert refused.value.holder_pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        with RunnerDbLock(db) as lock:  # the kernel dropped it with the process
            assert lock.held
    finally:
        child.kill()
        child.wait()


def test_children_of_the_holder_do_not_keep_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "runner.db"
    holder = RunnerDbLock(db).acquire()
    # Like Terraform under the runner; even without close_fds the descriptor is close-on-exec.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], close_fds=False)
    try:
        holder.release()
        deadline = time.monotonic() + 5
        while True:
            try:
                RunnerDbLock(db).acquire().release()
                break
            except RunnerDbBusyError:
                assert time.monotonic() < deadline, "the child kept the lock"
                time.sleep(0.05)
    finally:
        child.kill()
        child.wait()


def test_a_link_in_place_of_the_lock_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "runner.db"
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    lock_path(db).symlink_to(target)
    with pytest.raises(OSError):
        RunnerDbLock(db).acquire()
    assert target.read_text() == "keep me"

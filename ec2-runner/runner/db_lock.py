"""One process at a time per runner.db: an exclusive ``flock`` on ``<runner.db>.lock``.

``python -m runner run`` holds it for as long as it runs; ``restore`` takes it before
it downloads a snapshot and keeps it until the file is swapped. A restore under a live
runner would replace the file the runner still writes to (its writes would go to the
old, unlinked file and its WAL would be deleted under it), and a second runner on the
same file would mark the first one's open attempts ``abandoned``.

The kernel drops the lock when the holder exits, however it exits (``kill -9``, out of
memory): there is no stale lock to clean up. The file stays (unlinking a lock file
races with a process that has just opened it) and holds the holder's pid, for messages.
The descriptor is close-on-exec, so children (Terraform) never keep the lock alive.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class RunnerDbBusyError(RuntimeError):
    """Another process holds runner.db's lock."""

    def __init__(self, db_path: Path, holder_pid: int | None):
        self.db_path = db_path
        self.holder_pid = holder_pid
        holder = f"process {holder_pid}" if holder_pid else "another process"
        super().__init__(f"{db_path} is in use by {holder} (a running runner or a restore)")


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class RunnerDbLock:
    """``with RunnerDbLock(path):`` or ``acquire()`` / ``release()``; never blocks."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self.path = lock_path(self.db_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunnerDbLock:
        """Take the lock now, or raise ``RunnerDbBusyError`` naming the holder."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a link planted in the state folder cannot redirect the pid write.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise RunnerDbBusyError(self.db_path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunnerDbLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None

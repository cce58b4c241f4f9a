"""runner.db: the runner's SQLite ledger.

Every job attempt with timings, outcome and error; capacity samples; the
snapshots taken; the index of job logs shipped to S3; dead letters seen.
WAL mode (readers and the online backup never block writers), schema versioned
with ``PRAGMA user_version`` and applied by ordered migrations. One connection
shared by the runner's threads behind a lock (sqlite3 objects are not
thread-safe by themselves).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Each entry migrates the schema from version i to i + 1. Never edit a shipped entry: append.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        runner_id TEXT NOT NULL,
        request_id TEXT,
        receive_count INTEGER,
        started_at REAL NOT NULL,
        ended_at REAL,
        outcome TEXT,              -- succeeded, failed, retry, released, interrupted, ...
        error TEXT,
        queue_wait_s REAL,         -- from the job's creation to this claim
        run_s REAL
    );
    CREATE INDEX attempts_job ON attempts (job_id);
    CREATE TABLE capacity_samples (
        at REAL NOT NULL,
        cpu_percent REAL,
        memory_percent REAL,
        memory_used_bytes INTEGER,
        disk_percent REAL,
        disk_free_bytes INTEGER,
        process_rss_bytes INTEGER
    );
    CREATE INDEX capacity_at ON capacity_samples (at);
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        taken_at REAL NOT NULL,
        key TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        deleted_at REAL
    );
    CREATE TABLE log_index (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        key TEXT NOT NULL,
        lines INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX log_index_job ON log_index (job_id);
    CREATE TABLE dead_letters (
        message_id TEXT PRIMARY KEY,
        job_id TEXT,
        project_id TEXT,
        seen_at REAL NOT NULL,
        reason TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class LedgerError(RuntimeError):
    """runner.db cannot be used (e.g. written by a newer runner)."""


@dataclass(frozen=True)
class Attempt:
    id: int
    job_id: str
    kind: str
    attempt: int
    runner_id: str
    started_at: float
    ended_at: float | None
    outcome: str | None
    error: str | None
    run_s: float | None


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; return the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise LedgerError(
            f"runner.db has schema version {found}, newer than this runner's {SCHEMA_VERSION}"
        )
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> Iterator[str]:
    # executescript() would commit our transaction first; split on ';' instead (no ';' in strings).
    for statement in script.split(";"):
        lines = [line.split("--", 1)[0] for line in statement.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            yield text


class Ledger:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        with self._lock:
            migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # --- attempts -------------------------------------------------------------------------
    def start_attempt(
        self,
        *,
        job_id: str,
        project_id: str,
        kind: str,
        attempt: int,
        runner_id: str,
        request_id: str | None,
        receive_count: int | None,
        started_at: float,
        queue_wait_s: float | None,
    ) -> int:
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO attempts (job_id, project_id, kind, attempt, runner_id, request_id,"
                " receive_count, started_at, queue_wait_s) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    project_id,
                    kind,
                    attempt,
                    runner_id,
                    request_id,
                    receive_count,
                    started_at,
                    queue_wait_s,
                ),
            )
            return int(cur.lastrowid or 0)

    def end_attempt(
        self, attempt_id: int, *, ended_at: float, outcome: str, error: str | None = None
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE attempts SET ended_at = ?, outcome = ?, error = ?,"
                " run_s = round(? - started_at, 3) WHERE id = ?",
                (ended_at, outcome, error, ended_at, attempt_id),
            )

    def close_dangling_attempts(self, at: float) -> int:
        """Attempts a previous run never ended (killed, power loss): mark them abandoned."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE attempts SET ended_at = ?, outcome = 'abandoned',"
                " error = 'the runner stopped without ending this attempt' WHERE ended_at IS NULL",
                (at,),
            )
            return cur.rowcount

    def attempts_for(self, job_id: str) -> list[Attempt]:
        rows = self.query(
            "SELECT id, job_id, kind, attempt, runner_id, started_at, ended_at, outcome, error,"
            " run_s FROM attempts WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [Attempt(*row) for row in rows]

    # --- capacity, snapshots, logs, dead letters -------------------------------------------
    def add_capacity_sample(self, sample: dict[str, float | int | None], at: float) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO capacity_samples (at, cpu_percent, memory_percent, memory_used_bytes,"
                " disk_percent, disk_free_bytes, process_rss_bytes) VALUES (?,?,?,?,?,?,?)",
                (
                    at,
                    sample.get("cpu_percent"),
                    sample.get("memory_percent"),
                    sample.get("memory_used_bytes"),
                    sample.get("disk_percent"),
                    sample.get("disk_free_bytes"),
                    sample.get("process_rss_bytes"),
                ),
            )

    def record_snapshot(self, *, taken_at: float, key: str, size_bytes: int, sha256: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO snapshots (taken_at, key, size_bytes, sha256) VALUES (?,?,?,?)",
                (taken_at, key, size_bytes, sha256),
            )

    def mark_snapshots_deleted(self, keys: list[str], at: float) -> None:
        if not keys:
            return
        with self._tx() as conn:
            conn.executemany(
                "UPDATE snapshots SET deleted_at = ? WHERE key = ? AND deleted_at IS NULL",
                [(at, key) for key in keys],
            )

    def add_log_part(
        self,
        *,
        job_id: str,
        project_id: str,
        attempt: int,
        key: str,
        lines: int,
        size_bytes: int,
        created_at: float,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO log_index (job_id, project_id, attempt, key, lines, size_bytes,"
                " created_at) VALUES (?,?,?,?,?,?,?)",
                (job_id, project_id, attempt, key, lines, size_bytes, created_at),
            )

    def record_dead_letter(
        self,
        *,
        message_id: str,
        job_id: str | None,
        project_id: str | None,
        seen_at: float,
        reason: str,
    ) -> bool:
        """Remember a dead-lettered message; False if it was already recorded."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO dead_letters (message_id, job_id, project_id, seen_at,"
                " reason) VALUES (?,?,?,?,?)",
                (message_id, job_id, project_id, seen_at, reason),
            )
            return cur.rowcount == 1

    def backup_to(self, target_path: Path | str) -> None:
        """SQLite's online backup into ``target_path`` while other threads keep writing.

        Uses a connection of its own: in WAL mode it reads one consistent snapshot
        without holding the ledger's lock, so jobs are not paused.
        """
        source = sqlite3.connect(str(self.path), timeout=30)
        target = sqlite3.connect(str(target_path))
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
        finally:
            target.close()
            source.close()

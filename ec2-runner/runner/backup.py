"""runner.db snapshots to S3: take (online backup API), keep (retention), restore.

Keys: ``backups/runner/YYYY/MM/DD/runner-YYYYMMDDTHHMMSSZ.db.gz``. Object metadata:
``sha256`` of the gzip body as stored and ``db-sha256`` of the database file inside.

Retention (``retention_plan``): the newest snapshot of each day is that day's
snapshot; the 7 newest days' snapshots are the dailies. Among older days'
snapshots, the newest of each ISO week is that week's snapshot; the 4 newest such
weeks are the weeklies. Everything else is deleted (also extra snapshots taken
earlier on a kept day).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from runner.ledger import Ledger

PREFIX = "backups/runner/"
_KEY_PATTERN = re.compile(
    r"^backups/runner/(\d{4})/(\d{2})/(\d{2})/runner-(\d{8}T\d{6}(?:\d{6})?Z)\.db\.gz$"
)
DAILY_KEPT = 7
WEEKLY_KEPT = 4


class RestoreError(RuntimeError):
    """No usable snapshot, or the downloaded one failed verification."""


@dataclass(frozen=True)
class Snapshot:
    key: str
    taken_at: datetime
    size_bytes: int = 0
    sha256: str = ""


def snapshot_key(taken_at: datetime) -> str:
    at = taken_at.astimezone(UTC)
    return f"{PREFIX}{at:%Y/%m/%d}/runner-{at:%Y%m%dT%H%M%S%fZ}.db.gz"


def parse_snapshot_key(key: str) -> datetime | None:
    match = _KEY_PATTERN.match(key)
    if not match:
        return None
    stamp = match.group(4)
    fmt = "%Y%m%dT%H%M%S%fZ" if len(stamp) > 16 else "%Y%m%dT%H%M%SZ"
    try:
        return datetime.strptime(stamp, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def retention_plan(
    snapshots: Iterable[Snapshot], daily: int = DAILY_KEPT, weekly: int = WEEKLY_KEPT
) -> tuple[list[Snapshot], list[Snapshot]]:
    """Split snapshots into (keep, delete), both newest first."""
    ordered = sorted(snapshots, key=lambda s: (s.taken_at, s.key), reverse=True)
    newest_per_day: dict[date, Snapshot] = {}
    for snap in ordered:
        newest_per_day.setdefault(snap.taken_at.date(), snap)
    days = sorted(newest_per_day, reverse=True)
    keep = {newest_per_day[d].key for d in days[:daily]}
    weeks: dict[tuple[int, int], Snapshot] = {}
    for day in days[daily:]:
        iso = day.isocalendar()
        weeks.setdefault((iso.year, iso.week), newest_per_day[day])
    for week in sorted(weeks, reverse=True)[:weekly]:
        keep.add(weeks[week].key)
    kept = [s for s in ordered if s.key in keep]
    deleted = [s for s in ordered if s.key not in keep]
    return kept, deleted


def list_snapshots(s3: Any, bucket: str) -> list[Snapshot]:
    snapshots = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            taken_at = parse_snapshot_key(obj["Key"])
            if taken_at is not None:
                snapshots.append(Snapshot(obj["Key"], taken_at, int(obj.get("Size", 0))))
    return snapshots


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(row[0]) for row in rows)


def take_snapshot(
    ledger: Ledger,
    s3: Any,
    bucket: str,
    *,
    work_dir: Path,
    clock: Callable[[], float] = time.time,
) -> Snapshot:
    """Back up runner.db while jobs keep writing, gzip it, upload it with its checksums."""
    taken_at = datetime.fromtimestamp(clock(), tz=UTC)
    key = snapshot_key(taken_at)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="snapshot-") as tmp:
        db_copy = Path(tmp) / "runner.db"
        ledger.backup_to(db_copy)
        check = _integrity(db_copy)
        if check != "ok":
            raise RuntimeError(f"the snapshot copy failed integrity_check: {check}")
        db_sha = _sha256_file(db_copy)
        gz_path = Path(tmp) / "runner.db.gz"
        with db_copy.open("rb") as src, gzip.open(gz_path, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        gz_sha = _sha256_file(gz_path)
        size = gz_path.stat().st_size
        with gz_path.open("rb") as body:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType="application/gzip",
                Metadata={"sha256": gz_sha, "db-sha256": db_sha},
            )
    ledger.record_snapshot(taken_at=taken_at.timestamp(), key=key, size_bytes=size, sha256=gz_sha)
    return Snapshot(key, taken_at, size, gz_sha)


def apply_retention(
    s3: Any, bucket: str, ledger: Ledger | None, clock: Callable[[], float] = time.time
) -> list[str]:
    """Delete snapshots outside the retention rule; return the deleted keys."""
    _, doomed = retention_plan(list_snapshots(s3, bucket))
    keys = [s.key for s in doomed]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
        )
    if ledger is not None:
        ledger.mark_snapshots_deleted(keys, clock())
    return keys


def choose_snapshot(snapshots: list[Snapshot], on: date | None) -> Snapshot:
    candidates = [s for s in snapshots if on is None or s.taken_at.date() == on]
    if not candidates:
        when = f" taken on {on.isoformat()}" if on else ""
        raise RestoreError(f"no runner snapshot{when} under s3 {PREFIX}")
    return max(candidates, key=lambda s: (s.taken_at, s.key))


def restore(s3: Any, bucket: str, target: Path, on: date | None = None) -> Snapshot:
    """Replace ``target`` (runner.db) with a verified snapshot. Run with the runner stopped."""
    snap = choose_snapshot(list_snapshots(s3, bucket), on)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".restore-") as tmp:
        gz_path = Path(tmp) / "snapshot.db.gz"
        response = s3.get_object(Bucket=bucket, Key=snap.key)
        with gz_path.open("wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                out.write(chunk)
        metadata = response.get("Metadata", {})
        expected = metadata.get("sha256")
        if not expected:
            raise RestoreError(f"{snap.key} has no sha256 metadata: refusing to restore it")
        actual = _sha256_file(gz_path)
        if actual != expected:
            raise RestoreError(f"{snap.key}: checksum mismatch ({actual} != {expected})")
        db_path = Path(tmp) / "runner.db"
        try:
            with gzip.open(gz_path, "rb") as src, db_path.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError) as exc:
            raise RestoreError(f"{snap.key}: not a readable gzip file: {exc}") from None
        if metadata.get("db-sha256") and _sha256_file(db_path) != metadata["db-sha256"]:
            raise RestoreError(f"{snap.key}: database checksum mismatch after decompression")
        try:
            check = _integrity(db_path)
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"{snap.key}: not an SQLite database: {exc}") from None
        if check != "ok":
            raise RestoreError(f"{snap.key}: integrity_check failed: {check}")
        # A stale WAL next to the new file would be replayed into it: remove it first.
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(db_path, target)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    return Snapshot(snap.key, snap.taken_at, snap.size_bytes, expected)

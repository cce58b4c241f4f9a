"""Safe extraction of an untrusted .zip / .tar.gz / .tgz (and plain .tar) into a folder.

The archive is hostile until proven otherwise:

* the format comes from the magic bytes, never the file name;
* member names are checked before anything is written: no absolute paths, no drive letters,
  no ``..`` component, no NUL; backslashes count as separators;
* links (symbolic and hard) are never created. A link whose target is absolute or leaves the
  archive root refuses the whole archive (a hostile signal); a link that stays inside is
  skipped and counted (real repositories contain harmless ones);
* device files and FIFOs refuse the archive;
* caps on the number of files, on the bytes actually written (counted while streaming, never
  trusting header sizes) and on the compression ratio (per zip entry and for the whole archive);
* member contents stay in memory up to a budget (nothing written at all for typical
  archives); beyond it, files are written with ``O_NOFOLLOW`` below the private temporary
  folder, which we created empty, so nothing can land outside it.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.analysis.errors import ArchiveRefusedError

_MIB = 1024 * 1024
MAX_DEPTH = 64  # folders deep
_MAX_MEMORY_FILE = 8 * _MIB  # bigger members go to disk (the analysis only reads their head)
MAX_PATH_CHARS = 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_archive_bytes: int = 10 * _MIB
    max_files: int = 20_000
    max_total_bytes: int = 200 * _MIB
    max_entry_ratio: float = 100.0  # uncompressed / compressed, per zip entry
    max_total_ratio: float = 100.0  # uncompressed total / archive size
    ratio_floor_bytes: int = 1 * _MIB  # ratios are only checked above this many bytes


@dataclass
class ExtractionStats:
    files: int = 0
    bytes: int = 0
    links_skipped: int = 0


def detect_format(head: bytes) -> str | None:
    """``zip``, ``gzip`` (a tar.gz) or ``tar`` from the first bytes, else None."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def safe_member_path(name: str) -> str | None:
    """The relative path a member may use; None for the archive root itself; refuses otherwise."""
    if "\x00" in name:
        raise ArchiveRefusedError("path_traversal", name, "NUL in the name")
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) >= 2 and cleaned[1] == ":"):
        raise ArchiveRefusedError("absolute_path", name)
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveRefusedError("path_traversal", name)
    if not parts:
        return None
    if len(parts) > MAX_DEPTH or len(cleaned) > MAX_PATH_CHARS:
        raise ArchiveRefusedError("path_too_long", name[:200])
    joined = "/".join(parts)
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a tar name: keep a printable form
        joined = joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return joined


def link_stays_inside(member: str, target: str, *, hard: bool) -> bool:
    """Whether a link at ``member`` pointing to ``target`` resolves inside the archive root."""
    target = target.replace("\\", "/")
    if not target or target.startswith("/") or (len(target) >= 2 and target[1] == ":"):
        return False
    base = [] if hard else member.split("/")[:-1]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not base:
                return False
            base.pop()
        else:
            base.append(part)
    return True


class _Writer:
    """Receives members: keeps their bytes in memory up to ``memory_budget`` bytes in total,
    writes the rest under ``dest`` (the private temp folder); enforces the caps while streaming.

    ``keep(rel)`` says whether a member's content is wanted at all: members of dependency or
    build folders are still decompressed (their bytes count toward the caps) but discarded.
    """

    def __init__(
        self,
        dest: Path,
        limits: ArchiveLimits,
        archive_size: int,
        memory_budget: int = 0,
        keep: Any = None,
    ) -> None:
        self.dest = dest
        self.limits = limits
        self.archive_size = max(archive_size, 1)
        self.stats = ExtractionStats()
        self.memory_budget = memory_budget
        self.in_memory = 0
        self.keep = keep
        self.contents: dict[str, bytes | Path] = {}
        self.current: str | None = None  # the member being read, for error messages
        self._files: set[str] = set()
        self._dirs: set[str] = set()
        self._made_dirs: set[str] = set()

    def count_file(self, name: str) -> None:
        self.stats.files += 1
        if self.stats.files > self.limits.max_files:
            raise ArchiveRefusedError(
                "too_many_files", name, f"more than {self.limits.max_files} files"
            )

    def note_dir(self, rel: str, name: str) -> None:
        if rel in self._files:
            raise ArchiveRefusedError("unwritable", name, "path conflicts with a file")
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix in self._files:
                raise ArchiveRefusedError("unwritable", name, "path conflicts with a file")
            self._dirs.add(prefix)

    def _make_disk_dir(self, rel: str, name: str) -> None:
        todo = []
        cur = rel
        while cur and cur not in self._made_dirs:
            todo.append(cur)
            cur = cur.rpartition("/")[0]
        for d in reversed(todo):
            path = os.path.join(self.dest, d)
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                if os.path.islink(path) or not os.path.isdir(path):
                    raise ArchiveRefusedError(
                        "unwritable", name, "path conflicts with a file"
                    ) from None
            except OSError as exc:
                raise ArchiveRefusedError("unwritable", name, exc.strerror) from None
            self._made_dirs.add(d)

    def _check(self, name: str, written: int, compressed_size: int | None) -> None:
        limits = self.limits
        if self.stats.bytes > limits.max_total_bytes:
            raise ArchiveRefusedError(
                "too_large", name, f"more than {limits.max_total_bytes} bytes uncompressed"
            )
        if (
            compressed_size is not None
            and written > limits.ratio_floor_bytes
            and written > limits.max_entry_ratio * max(compressed_size, 1)
        ):
            raise ArchiveRefusedError(
                "compression_ratio", name, f"ratio above {limits.max_entry_ratio:g}"
            )
        if (
            self.stats.bytes > limits.ratio_floor_bytes
            and self.stats.bytes > limits.max_total_ratio * self.archive_size
        ):
            raise ArchiveRefusedError(
                "compression_ratio", name, f"total ratio above {limits.max_total_ratio:g}"
            )

    def write_file(self, rel: str, name: str, stream: Any, compressed_size: int | None) -> None:
        key = rel
        if key in self._dirs:
            raise ArchiveRefusedError("unwritable", name, "path conflicts with a folder")
        parent = rel.rpartition("/")[0]
        if parent:
            self.note_dir(parent, name)
        self._files.add(key)
        wanted = self.keep is None or self.keep(key)
        chunks: list[bytes] = []
        out = None
        written = 0
        try:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                self.stats.bytes += len(chunk)
                self._check(name, written, compressed_size)
                if not wanted:
                    continue
                if (
                    out is None
                    and written <= _MAX_MEMORY_FILE
                    and self.in_memory + written <= self.memory_budget
                ):
                    chunks.append(chunk)
                    continue
                if out is None:
                    out = self._open_disk(rel, name)
                    for c in chunks:
                        out.write(c)
                    chunks = []
                out.write(chunk)
        finally:
            if out is not None:
                out.close()
        if not wanted:
            return
        if out is not None:
            self.contents[key] = self.dest / rel
        elif written == 0 and self.memory_budget == 0:
            self._open_disk(rel, name).close()
            self.contents[key] = self.dest / rel
        else:
            self.contents[key] = b"".join(chunks)
            self.in_memory += written

    def _open_disk(self, rel: str, name: str) -> Any:
        self._make_disk_dir(rel.rpartition("/")[0], name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(os.path.join(self.dest, rel), flags, 0o600)
        except OSError as exc:
            raise ArchiveRefusedError("unwritable", name, exc.strerror) from None
        return os.fdopen(fd, "wb")


def extract_archive(
    archive_path: Path, dest: Path, limits: ArchiveLimits | None = None
) -> ExtractionStats:
    """Extract ``archive_path`` into the empty folder ``dest``; raise ArchiveRefusedError."""
    return read_archive(archive_path, dest, limits, memory_budget=0).stats


@dataclass
class ArchiveContents:
    files: dict[str, bytes | Path]  # member path -> bytes in memory, or the spilled file
    stats: ExtractionStats


def read_archive(
    archive_path: Path,
    spill_dir: Path,
    limits: ArchiveLimits | None = None,
    *,
    memory_budget: int = 64 * _MIB,
    keep: Any = None,
) -> ArchiveContents:
    """Read every member with all checks; small archives stay in memory (fast, nothing
    written), the excess beyond ``memory_budget`` is written under ``spill_dir``."""
    limits = limits or ArchiveLimits()
    try:
        size = archive_path.stat().st_size
    except OSError as exc:
        raise ArchiveRefusedError("not_an_archive", None, f"cannot read: {exc.strerror}") from None
    if size > limits.max_archive_bytes:
        raise ArchiveRefusedError(
            "archive_too_large", None, f"{size} bytes, limit {limits.max_archive_bytes}"
        )
    with open(archive_path, "rb") as fh:
        head = fh.read(512)
    kind = detect_format(head)
    if kind is None:
        raise ArchiveRefusedError("not_an_archive", None, "not a zip, tar.gz or tar file")
    writer = _Writer(spill_dir, limits, size, memory_budget, keep)
    if kind == "zip":
        _extract_zip(archive_path, writer)
    else:
        _extract_tar(archive_path, writer, "r|gz" if kind == "gzip" else "r|")
    return ArchiveContents(writer.contents, writer.stats)


def _zip_mode(info: zipfile.ZipInfo) -> int:
    # Only archives made on Unix carry a meaningful mode in the high 16 bits.
    return (info.external_attr >> 16) if info.create_system == 3 else 0


def _zip_declared_entries(archive_path: Path) -> int | None:
    """The entry count of the end-of-central-directory record, read before zipfile builds
    one object per entry (a hostile 10 MB zip can declare ~200,000 of them)."""
    with open(archive_path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    entries = int.from_bytes(tail[pos + 10 : pos + 12], "little")
    if entries == 0xFFFF:  # zip64: the real count is in the zip64 record
        z64 = tail.rfind(b"PK\x06\x06", 0, pos)
        if z64 >= 0 and z64 + 40 <= len(tail):
            entries = int.from_bytes(tail[z64 + 32 : z64 + 40], "little")
    return entries


def _extract_zip(archive_path: Path, writer: _Writer) -> None:
    declared = _zip_declared_entries(archive_path)
    # directories are entries too: allow some slack before refusing on the header alone
    if declared is not None and declared > 2 * writer.limits.max_files + 1000:
        raise ArchiveRefusedError(
            "too_many_files", None, f"{declared} entries declared, limit {writer.limits.max_files}"
        )
    try:
        zf = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveRefusedError("corrupt", None, f"truncated or corrupt zip: {exc}") from None
    with zf:
        infos = zf.infolist()
        files = [i for i in infos if not i.is_dir()]
        if len(files) > writer.limits.max_files:
            raise ArchiveRefusedError(
                "too_many_files",
                files[writer.limits.max_files].filename,
                f"more than {writer.limits.max_files} files",
            )
        for info in infos:
            name = info.filename
            rel = safe_member_path(name)
            mode = _zip_mode(info)
            if stat.S_ISLNK(mode):
                target = ""
                if rel is not None:
                    with zf.open(info) as stream:
                        target = stream.read(4096).decode("utf-8", "replace")
                if rel is None or not link_stays_inside(rel, target, hard=False):
                    raise ArchiveRefusedError("link_escape", name, f"link to {target!r}")
                writer.stats.links_skipped += 1
                continue
            if mode and (
                stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode)
                or stat.S_ISFIFO(mode)
                or stat.S_ISSOCK(mode)
            ):
                raise ArchiveRefusedError("special_file", name, "device, socket or FIFO")
            if rel is None:
                continue
            if info.is_dir():
                writer.note_dir(rel, name)
                continue
            if info.flag_bits & 0x1:
                raise ArchiveRefusedError("encrypted", name)
            writer.count_file(name)
            try:
                with zf.open(info) as stream:
                    writer.write_file(rel, name, stream, info.compress_size)
            except ArchiveRefusedError:
                raise
            except (
                zipfile.BadZipFile,
                EOFError,
                OSError,
                ValueError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise ArchiveRefusedError("corrupt", name, str(exc) or type(exc).__name__) from None
            except Exception as exc:  # zlib.error and friends: still a broken archive
                raise ArchiveRefusedError("corrupt", name, str(exc) or type(exc).__name__) from None


def _extract_tar(archive_path: Path, writer: _Writer, mode: str) -> None:
    try:
        with open(archive_path, "rb") as raw:
            stream = _CappedReader(
                gzip.GzipFile(fileobj=raw) if mode == "r|gz" else raw,
                # headers (pax, GNU long names) are read by tarfile itself: cap them too
                writer.limits.max_total_bytes + 512 * (writer.limits.max_files + 1024) + _MIB,
            )
            _read_tar_members(stream, writer)
    except ArchiveRefusedError:
        raise
    except Exception as exc:  # tarfile/gzip/zlib/EOF errors: truncated or corrupt
        raise ArchiveRefusedError(
            "corrupt", writer.current, f"truncated or corrupt tar: {str(exc) or type(exc).__name__}"
        ) from None


class _CappedReader:
    """A stream that refuses to deliver more than ``cap`` decompressed bytes in total."""

    def __init__(self, stream: Any, cap: int) -> None:
        self.stream = stream
        self.cap = cap
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.cap - self.total + 1
        data = self.stream.read(min(size, self.cap - self.total + 1))
        self.total += len(data)
        if self.total > self.cap:
            raise ArchiveRefusedError("too_large", None, "tar stream larger than allowed")
        return data


def _read_tar_members(stream: Any, writer: _Writer) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for member in tf:
            name = member.name
            writer.current = name
            rel = safe_member_path(name)
            if member.issym() or member.islnk():
                if rel is None or not link_stays_inside(rel, member.linkname, hard=member.islnk()):
                    raise ArchiveRefusedError("link_escape", name, f"link to {member.linkname!r}")
                writer.stats.links_skipped += 1
                continue
            if member.ischr() or member.isblk() or member.isfifo():
                raise ArchiveRefusedError("special_file", name, "device or FIFO")
            if rel is None:
                continue
            if member.isdir():
                writer.note_dir(rel, name)
                continue
            if not member.isreg():
                raise ArchiveRefusedError("special_file", name, "unsupported entry type")
            writer.count_file(name)
            data = tf.extractfile(member)
            if data is not None:
                writer.write_file(rel, name, data, None)

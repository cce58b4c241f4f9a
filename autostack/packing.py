"""Packing a folder into the zip that is uploaded: what goes in, and refusing what is too big.

Left out: version-control and dependency folders (``SKIPPED_DIRS``: they are rebuilt
from the lockfiles), whatever ``.gitignore`` files (at every level, git's rules) and the
top ``.dockerignore`` exclude, and symbolic links (a link could point outside the folder;
the server refuses archives with links anyway). An archive over the upload limit is
refused here, before anything is sent, naming the biggest files and folders.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from autostack.errors import RefusedError, UsageError

MAX_ARCHIVE_BYTES = 10 * 1024 * 1024
PROJECT_FILE = ".autostack.json"
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "CVS",
        "node_modules", "bower_components", "jspm_packages",
        ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", ".eggs",
        "target", "vendor", ".gradle", ".terraform", ".next", ".nuxt", ".cache",
    }
)  # fmt: skip
SKIPPED_FILES = frozenset({PROJECT_FILE, ".DS_Store"})
# Zip entries get one fixed time so the same folder packs to the same bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass
class Packed:
    data: bytes
    files: list[str]
    total_bytes: int  # before compression
    skipped_links: list[str] = field(default_factory=list)
    ignored: int = 0  # files and folders left out by the ignore rules and SKIPPED_DIRS


class TooBigError(RefusedError):
    """The folder packs to more than the upload limit."""


def _spec(path: Path) -> pathspec.PathSpec | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


class _Ignores:
    """The ignore files seen so far, each applying below its own folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rules: list[tuple[PurePosixPath, pathspec.PathSpec]] = []
        docker = _spec(root / ".dockerignore")
        if docker is not None:
            self.rules.append((PurePosixPath("."), docker))

    def enter(self, relative_dir: PurePosixPath) -> None:
        spec = _spec(self.root / relative_dir / ".gitignore")
        if spec is not None:
            self.rules.append((relative_dir, spec))

    def ignored(self, relative: PurePosixPath, is_dir: bool) -> bool:
        for base, spec in self.rules:
            if base != PurePosixPath(".") and base not in relative.parents:
                continue
            inside = relative.relative_to(base) if base != PurePosixPath(".") else relative
            text = f"{inside.as_posix()}/" if is_dir else inside.as_posix()
            if spec.match_file(text):
                return True
        return False


def pack(folder: Path, max_bytes: int = MAX_ARCHIVE_BYTES) -> Packed:
    """The folder as a zip (``TooBigError`` over ``max_bytes``, before any upload)."""
    root = folder.resolve()
    if not root.is_dir():
        raise UsageError(f"{folder} is not a folder", hint="pass the folder of your app")
    ignores = _Ignores(root)
    chosen: list[tuple[str, Path, int]] = []
    links: list[str] = []
    ignored = 0
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        relative_dir = PurePosixPath(here.relative_to(root).as_posix())
        ignores.enter(relative_dir)
        kept_dirs = []
        for name in sorted(dirs):
            relative = relative_dir / name
            if (here / name).is_symlink():
                links.append(relative.as_posix())
            elif name in SKIPPED_DIRS or ignores.ignored(relative, is_dir=True):
                ignored += 1
            else:
                kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(files):
            relative = relative_dir / name
            path = here / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                links.append(relative.as_posix())
            elif not stat.S_ISREG(info.st_mode):
                continue  # sockets, fifos, devices
            elif name in SKIPPED_FILES or ignores.ignored(relative, is_dir=False):
                ignored += 1
            else:
                chosen.append((relative.as_posix(), path, info.st_size))
    if not chosen:
        raise UsageError(f"nothing to upload in {folder}", hint="every file is ignored or empty")
    total = sum(size for _, _, size in chosen)
    # Far over the limit: refuse without compressing gigabytes first.
    if total > 20 * max_bytes:
        raise _too_big(chosen, total, max_bytes, total)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path, _ in chosen:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (0o644 | (path.stat().st_mode & 0o111)) << 16
            archive.writestr(entry, path.read_bytes())
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise _too_big(chosen, total, max_bytes, len(data))
    return Packed(
        data=data,
        files=[name for name, _, _ in chosen],
        total_bytes=total,
        skipped_links=sorted(links),
        ignored=ignored,
    )


def biggest(chosen: list[tuple[str, Path, int]], count: int = 5) -> dict[str, list[list]]:
    """The largest files and top-level folders (name, bytes), largest first."""
    files = sorted(((name, size) for name, _, size in chosen), key=lambda f: -f[1])[:count]
    folders: Counter[str] = Counter()
    for name, _, size in chosen:
        if "/" in name:
            folders[name.split("/", 1)[0] + "/"] += size
    return {
        "files": [[name, size] for name, size in files],
        "folders": [[name, size] for name, size in folders.most_common(count)],
    }


def _too_big(
    chosen: list[tuple[str, Path, int]], total: int, max_bytes: int, packed: int
) -> TooBigError:
    top = biggest(chosen)
    named = ", ".join(f"{n} ({human_bytes(s)})" for n, s in top["folders"][:3] + top["files"][:3])
    return TooBigError(
        f"the folder packs to {human_bytes(packed)}, over the {human_bytes(max_bytes)} upload"
        f" limit; biggest: {named}",
        hint="add them to .gitignore or .dockerignore",
        details={"packed_bytes": packed, "total_bytes": total, "max_bytes": max_bytes, **top},
    )


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"

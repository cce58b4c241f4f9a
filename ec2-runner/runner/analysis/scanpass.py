"""The single content pass: every file is read at most once here.

It counts bytes and lines per language, skips binaries (a NUL byte early on) and minified
files, runs the code scanners of the file's language and the secret scanner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from runner.analysis.hints import SCAN_CAP, SCANNERS, Hint, scan_code
from runner.analysis.secrets import Secret, scan_secrets
from runner.analysis.walk import LOCKFILES, FileList

_SECRET_SCAN_MAX_FILE = 2 * 1024 * 1024
MAX_SECRETS = 1000  # findings kept (a warning counts them); more only floods the report
MAX_SECRETS_PER_FILE = 50
_FULL_READ_MAX = 8 * 1024 * 1024  # bigger files are counted in chunks, never held whole
_UNKNOWN_TEXT_MAX = 256 * 1024
# Files without a language that may still hold credentials or settings.
_CONFIG_NAMES = (
    ".env",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "credentials",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "Procfile",
    ".htpasswd",
)
_CONFIG_EXTS = (
    ".env",
    ".ini",
    ".cfg",
    ".conf",
    ".properties",
    ".pem",
    ".key",
    ".txt",
    ".config",
    ".tfvars",
    ".gradle",
    ".sbt",
    ".lock",
    ".example",
    ".sample",
)
_MINIFIABLE = frozenset({"javascript", "css"})


@dataclass
class LanguageCount:
    bytes: int = 0
    lines: int = 0
    files: int = 0


@dataclass
class ScanResult:
    languages: dict[str, LanguageCount] = field(default_factory=lambda: defaultdict(LanguageCount))
    hints: list[Hint] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    binary_files: int = 0
    minified_files: int = 0


def _wants_secret_scan(name: str, size: int, has_language: bool) -> bool:
    if name in LOCKFILES or size > _SECRET_SCAN_MAX_FILE:
        return False
    if has_language:
        return True
    if size > _UNKNOWN_TEXT_MAX:
        return False
    return name.startswith(_CONFIG_NAMES) or name.endswith(_CONFIG_EXTS) or "." not in name


def _minified(data: bytes) -> bool:
    head = data[:4096]
    return len(data) > 2048 and head.count(b"\n") < 3 and len(head) == 4096


def scan_files(listing: FileList) -> ScanResult:
    result = ScanResult()
    for f in listing.files:
        name = f.rel.rsplit("/", 1)[-1]
        language = f.language
        secret_scan = _wants_secret_scan(name, f.size, language is not None)
        if language is None and not secret_scan:
            continue
        if language is not None and f.size > _FULL_READ_MAX:
            data = listing.read(f.rel, SCAN_CAP)  # a huge file: scan its head, count its lines
            lines = _count_lines(listing, f.rel)
        else:
            data = listing.read(f.rel, None if language is not None else _UNKNOWN_TEXT_MAX)
            lines = None
        if data is None:
            continue
        if b"\x00" in data[:8192]:
            result.binary_files += 1
            continue
        result.files_scanned += 1
        result.bytes_scanned += len(data)
        if language in _MINIFIABLE and _minified(data):
            result.minified_files += 1
            continue
        if language is not None:
            stat = result.languages[language]
            if lines is None:
                stat.bytes += len(data)
                lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            else:
                stat.bytes += f.size
            stat.lines += lines
            stat.files += 1
        head = data if len(data) <= SCAN_CAP else data[:SCAN_CAP]
        if language in SCANNERS:
            result.hints.extend(scan_code(f.rel, head, language))
        if secret_scan:
            if len(result.secrets) < MAX_SECRETS:
                result.secrets.extend(scan_secrets(f.rel, head)[:MAX_SECRETS_PER_FILE])
    return result


def _count_lines(listing: FileList, rel: str) -> int:
    """Lines of a big file, read in chunks (in-memory content is counted in place)."""
    content = listing.contents.get(rel) if listing.contents is not None else None
    if isinstance(content, bytes):
        return content.count(b"\n")
    path = content if content is not None else (listing.root / rel if listing.root else None)
    if path is None:
        return 0
    lines = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                lines += chunk.count(b"\n")
    except OSError:
        return 0
    return lines

"""Committed credentials: known token shapes, private keys, passwords in URLs, and generic
assignments of high-entropy strings to secret-looking names. Values are always masked.

False positives are avoided on purpose: placeholders ("changeme", "xxx", "your-token",
"${VAR}", "<password>"), documentation examples (AWS's ``...EXAMPLE`` keys), weak defaults
of local development ("postgres:postgres", "guest:guest") and low-entropy values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from runner.analysis.hints import LineIndex

MAX_PER_FILE = 50


@dataclass(frozen=True, slots=True)
class Secret:
    type: str
    file: str
    line: int
    masked: str


def mask(value: str) -> str:
    n = len(value)
    if n >= 20:
        return value[:4] + "*" * (n - 8) + value[-4:]
    if n >= 12:
        return value[:2] + "*" * (n - 4) + value[-2:]
    return "*" * 8


def entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "xxxx",
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourtoken",
    "yoursecret",
    "dummy",
    "sample",
    "fake",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "secret_here",
    "token_here",
    "****",
    "...",
    "notasecret",
    "not-a-secret",
    "lorem",
    "foobar",
    "test_",
    "testing",
    "mysecret",
    "supersecret",
    "secretkey",
    "password",
    "local-only",
    "localonly",
    "localdev",
    "dev-only",
    "insecure",
    "unsafe",
    "development",
    "not-secret",
    "notsecret",
)
_WEAK_PASSWORDS = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "secret",
        "postgres",
        "root",
        "admin",
        "guest",
        "test",
        "example",
        "changeme",
        "user",
        "mysql",
        "redis",
        "mongo",
        "default",
        "1234",
        "12345",
        "123456",
        "pwd",
        "xxx",
        "none",
        "null",
        "dev",
        "local",
    }
)


def is_placeholder(value: str) -> bool:
    low = value.lower()
    if not value or value[0] in "$%{<[(" or value.startswith(("{{", "@")):
        return True
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    if len(set(value)) <= 2:  # "aaaaaaaa", "00000000"
        return True
    return False


# Known token shapes. Every pattern starts with a literal so that sre skips through the data
# with a fast substring search; word boundaries are checked in code (a leading \b or a
# character class would make sre try every position).
_ANCHORS: list[tuple[str, re.Pattern[bytes]]] = [
    (
        "private_key",
        re.compile(
            rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
        ),
    ),
    ("github_token", re.compile(rb"gh[pousr]_[A-Za-z0-9]{36,255}")),
    ("github_token", re.compile(rb"github_pat_[A-Za-z0-9_]{22,255}")),
    ("slack_token", re.compile(rb"xox[abposr]-[A-Za-z0-9-]{10,200}")),
    ("stripe_secret_key", re.compile(rb"k_live_[A-Za-z0-9]{16,200}")),
    ("stripe_secret_key", re.compile(rb"k_test_[A-Za-z0-9]{16,200}")),
    ("google_api_key", re.compile(rb"AIza[0-9A-Za-z_-]{35}")),
    ("aws_access_key_id", re.compile(rb"A[KS]IA[0-9A-Z]{16}")),
    ("url", re.compile(rb"://")),
]
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_SLACK_WEBHOOK = re.compile(rb"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")
_URL_USERINFO = re.compile(rb"""([^\s:/@"'<>`]{1,64}):([^\s/@"'<>`]{1,128})@([^\s/"'<>`:]+)""")
_SCHEME_BEFORE = re.compile(rb"([a-z][a-z0-9+.-]{1,20})$")
# Generic rule: a secret-looking name assigned a literal, one literal-first pattern per word
# over the lower-cased text (the value is then read from the original bytes).
_ASSIGN_TAIL = (
    rb"""[a-z0-9_.\-]*["']?[ \t]*(?::=|=>|[:=])[ \t]*"""
    rb"""(?:(["'])([^"'\s]{8,200})["']|([^\s"'#,;]{8,200})[ \t]*(?:\r?\n|$))"""
)
_GENERIC_WORDS = (b"secret", b"token", b"passw", b"pwd", b"key", b"credential")
_GENERIC = [re.compile(word + _ASSIGN_TAIL) for word in _GENERIC_WORDS]
_KEY_NAME = re.compile(
    r"(api|private|access|auth|secret|signing|encryption|master|client)[_.-]?key"
)
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")
_IDENTIFIER_LIKE = re.compile(r"[a-z_][a-z0-9_.]*(\(\))?")
_AWS_SECRET_NAME = re.compile(r"aws_?secret_?access_?key")


def _generic_value_ok(value: str) -> bool:
    if is_placeholder(value) or entropy(value) < 3.0:
        return False
    if _IDENTIFIER_LIKE.fullmatch(value):  # get_secret(), settings.token, snake_case names
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_upper = any(ch.isupper() for ch in value)
    has_lower = any(ch.islower() for ch in value)
    has_symbol = any(not ch.isalnum() for ch in value)
    return sum((has_digit, has_upper, has_lower, has_symbol)) >= 2


def _example_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    return any(
        w in name for w in ("example", "sample", "template", ".dist", "test", "spec", "mock")
    )


_CONFIG_SUFFIXES = (
    ".yml",
    ".yaml",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".properties",
    ".env",
    ".config",
    ".txt",
    ".tfvars",
)


def _config_file(rel: str) -> bool:
    """Settings files, where ``NAME=value`` without quotes is a literal (in code it is not)."""
    name = rel.rsplit("/", 1)[-1].lower()
    return name.startswith(".env") or name.endswith(_CONFIG_SUFFIXES) or "." not in name


def scan_secrets(rel: str, data: bytes) -> list[Secret]:
    found: dict[tuple[int, str], Secret] = {}
    specific_lines: set[int] = set()
    line_of = LineIndex(data)

    def add(kind: str, pos: int, masked: str) -> None:
        line = line_of(pos)
        found.setdefault((line, kind), Secret(kind, rel, line, masked))
        specific_lines.add(line)

    for kind, pattern in _ANCHORS:
        for m in pattern.finditer(data):
            if len(found) >= MAX_PER_FILE:  # a file of thousands of keys: enough said
                break
            start = m.start()
            if kind == "private_key":
                header = m.group(1).decode()
                add(kind, start, f"-----BEGIN {header}----- (key material hidden)")
                continue
            if kind == "url":
                _url_secret(data, start, add)
                continue
            if kind == "stripe_secret_key":
                if start == 0 or data[start - 1] not in b"sr":
                    continue
                start -= 1
            if start > 0 and data[start - 1] in _WORD:
                continue
            end = m.end()
            if (
                kind in ("aws_access_key_id", "google_api_key")
                and end < len(data)
                and (data[end] in _WORD)
            ):
                continue
            value = data[start:end].decode("ascii", "replace")
            if is_placeholder(value) or "EXAMPLE" in value:
                continue
            add(kind, start, mask(value))
    if not _example_file(rel) and len(found) < MAX_PER_FILE:
        _generic(rel, data, found, specific_lines)
    return sorted(found.values(), key=lambda s: (s.line, s.type))


def _url_secret(data: bytes, pos: int, add: Any) -> None:
    after = pos + 3
    if data.startswith(b"hooks.slack.com", after):
        m = _SLACK_WEBHOOK.match(data, after)
        if m:
            add("slack_webhook", pos, "https://hooks.slack.com/services/" + "*" * 8)
        return
    m = _URL_USERINFO.match(data, after, after + 400)
    if not m:
        return
    scheme_m = _SCHEME_BEFORE.search(data, max(0, pos - 21), pos)
    if not scheme_m:
        return
    user = m.group(1).decode(errors="replace")
    password = m.group(2).decode(errors="replace")
    if password.lower() in _WEAK_PASSWORDS or password == user or is_placeholder(password):
        return
    scheme, host = scheme_m.group(1).decode(), m.group(3).decode(errors="replace")
    add("password_in_url", scheme_m.start(), f"{scheme}://{user}:{mask(password)}@{host}")


def _generic(rel: str, data: bytes, found: dict, specific_lines: set[int]) -> None:
    low = data.lower()
    line_of = LineIndex(data)
    unquoted_ok = _config_file(rel)
    for word, pattern in zip(_GENERIC_WORDS, _GENERIC, strict=True):
        if word not in low:  # a fast substring test saves the regex pass on most files
            continue
        for m in pattern.finditer(low):
            if len(found) >= MAX_PER_FILE:
                return
            start = m.start()
            while start > 0 and low[start - 1] in _NAME_CHARS:
                start -= 1
            name = low[start : m.end()].split(b"=")[0].split(b":")[0].decode("ascii", "replace")
            if pattern is _GENERIC[4] and not _KEY_NAME.search(name):
                continue
            if m.group(2) is None and not unquoted_ok:
                continue
            vstart, vend = (m.start(2), m.end(2)) if m.group(2) is not None else m.span(3)
            value = data[vstart:vend].decode("utf-8", "replace")
            line = line_of(vstart)
            if line in specific_lines or not _generic_value_ok(value):
                continue
            kind = "aws_secret_access_key" if _AWS_SECRET_NAME.search(name) else "generic_secret"
            found.setdefault((line, kind), Secret(kind, rel, line, mask(value)))

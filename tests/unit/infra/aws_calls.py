"""Find the AWS calls a body of Python code makes, and the IAM actions they need.

Static analysis (ast), conservative by construction:

- a *call* is ``<receiver>.<method>(...)`` where ``method`` is an operation of one of
  the services AutoStack uses (botocore's own service models give the names), or
  ``get_paginator("<operation>")`` / ``generate_presigned_url("<operation>")``;
- the service comes from the receiver's text (``self._ddb``, ``ctx.aws.s3``,
  ``clients.sqs``...) or, when that names none, from the method name if only one
  service has it;
- *reachability*: code counts when it can run. Roots are the module-level code of
  the entry modules, of every module they import (transitively, lazy imports
  included), and the bodies of decorated functions (routes, schedules, handlers that
  a project decorator registers), except for purely descriptive decorators; a
  function is reachable when a reachable body mentions its name (called, passed as
  a callback, or read as a property). Name-based linking over-approximates, which
  errs on the side of demanding a permission, never of hiding one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SERVICES = ("dynamodb", "s3", "sqs", "ssm", "sts", "ec2")
_RECEIVER_HINTS = {
    "dynamodb": re.compile(r"dynamo|ddb|table", re.I),
    "s3": re.compile(r"(^|[^a-z])s3", re.I),
    "sqs": re.compile(r"sqs|queue", re.I),
    "ssm": re.compile(r"ssm|param", re.I),
    "sts": re.compile(r"sts", re.I),
    "ec2": re.compile(r"ec2", re.I),
}
CHALICE_DECORATORS = {
    "route",
    "schedule",
    "lambda_function",
    "authorizer",
    "on_sqs_message",
    "on_s3_event",
    "on_sns_message",
    "on_cw_event",
    "on_ws_message",
    "on_ws_connect",
    "on_ws_disconnect",
    "middleware",
    "register_middleware",
}
_S3_EXTRA_METHODS = {
    "generate_presigned_post": ("s3:PutObject",),
    "upload_file": ("s3:PutObject",),
    "upload_fileobj": ("s3:PutObject",),
    "download_file": ("s3:GetObject",),
    "download_fileobj": ("s3:GetObject",),
    "copy": ("s3:GetObject", "s3:PutObject"),
}
_IAM_EXCEPTIONS = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("dynamodb", "TransactGetItems"): ("dynamodb:GetItem",),
    ("sts", "GetCallerIdentity"): (),  # needs no permission
}
# TransactWriteItems needs the item action of each kind of entry it carries.
_TRANSACT_ENTRIES = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Decorators that register nothing: the function runs only when something names it.
_PASSIVE_DECORATORS = {
    "property",
    "cached_property",
    "staticmethod",
    "classmethod",
    "cache",
    "lru_cache",
    "wraps",
    "contextmanager",
    "asynccontextmanager",
    "abstractmethod",
    "overload",
    "override",
    "field_validator",
    "model_validator",
    "field_serializer",
    "model_serializer",
    "computed_field",
    "setter",
    "dataclass",
}
# Methods of every botocore client that are not operations.
_CLIENT_HELPERS = {"get_paginator", "get_waiter", "can_paginate", "close", "meta"}


@lru_cache(maxsize=1)
def operations() -> dict[str, dict[str, str]]:
    """{service: {python method name: API operation name}} from botocore's models."""
    import botocore.session
    from botocore import xform_name

    # The raw service-2 documents (what ServiceModel.operation_names lists), without
    # building botocore's model objects: half the cost, ec2's model is large.
    loader = botocore.session.get_session().get_component("data_loader")
    table: dict[str, dict[str, str]] = {}
    for service in SERVICES:
        document = loader.load_service_model(service, "service-2")
        table[service] = {xform_name(op): op for op in document["operations"]}
    return table


@dataclass(frozen=True)
class AwsCall:
    path: str
    line: int
    service: str
    method: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.service}.{self.method} -> {', '.join(self.actions)}"


@dataclass
class _Module:
    path: Path
    name: str
    tree: ast.Module
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    # Whole-module facts every body of the module shares: computed once per module, not
    # once per reachable function (that walked each tree ~1,000 times: 27 s for the runner).
    transact_kinds: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)


def _module_name(path: Path, roots: Iterable[Path]) -> str:
    for root in roots:
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)
    raise ValueError(f"{path} is under none of the source roots")


def _imports(module: _Module) -> set[str]:
    """Every module name an import statement anywhere in the module may load."""
    found: set[str] = set()
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _is_registered_handler(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A decorated function may be registered to run later (Chalice's @app.route, or a
    project decorator such as @endpoint(bp, ...) that registers it): count it as a root,
    unless the decorator is one that only wraps or describes it."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in CHALICE_DECORATORS or name not in _PASSIVE_DECORATORS:
            return True
    return False


def _mentioned_names(nodes: Iterable[ast.AST]) -> set[str]:
    names: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Statements that run at import: everything but function bodies (decorators,
    default values and class bodies do run)."""
    nodes: list[ast.AST] = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                nodes.extend(statement.decorator_list)
                nodes.extend(statement.args.defaults)
                nodes.extend(d for d in statement.args.kw_defaults if d is not None)
            elif isinstance(statement, ast.ClassDef):
                nodes.extend(statement.decorator_list + statement.bases)
                visit(statement.body)
            else:
                nodes.append(statement)

    visit(tree.body)
    return nodes


class AmbiguousCallError(ValueError):
    """A call names an operation of several services and its receiver says none of them."""


def _service_for(receiver: str, method: str, where: str) -> str | None:
    """The service a call goes to; None when the receiver names another service (so it
    is not this operation, e.g. a ledger's own ``query``)."""
    candidates = [s for s in SERVICES if method in operations()[s]]
    hinted = [s for s in candidates if _RECEIVER_HINTS[s].search(receiver)]
    if len(hinted) == 1:
        return hinted[0]
    if any(_RECEIVER_HINTS[s].search(receiver) for s in SERVICES if s not in candidates):
        return None
    if len(candidates) == 1:
        return candidates[0]
    raise AmbiguousCallError(
        f"{where}: {receiver}.{method}() is an operation of {', '.join(candidates)}; "
        "name the client after its service (s3, sqs, ddb/dynamodb, ssm, sts)"
    )


def iam_actions(service: str, method: str, transact_kinds: Iterable[str] = ()) -> tuple[str, ...]:
    if service == "s3" and method in _S3_EXTRA_METHODS:
        return _S3_EXTRA_METHODS[method]
    operation = operations()[service][method]
    if (service, operation) in _IAM_EXCEPTIONS:
        return _IAM_EXCEPTIONS[(service, operation)]
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        kinds = sorted({_TRANSACT_ENTRIES[k] for k in transact_kinds if k in _TRANSACT_ENTRIES})
        # Unknown entries (built elsewhere): demand every kind, the conservative answer.
        return tuple(kinds) or tuple(sorted(_TRANSACT_ENTRIES.values()))
    return (f"{service}:{operation}",)


def _transact_kinds(tree: ast.Module) -> set[str]:
    """Entry kinds a module builds for TransactWriteItems: dict keys "Put", "Update"..."""
    kinds: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in _TRANSACT_ENTRIES:
                    kinds.add(key.value)
    return kinds


def _imported_names(tree: ast.Module) -> set[str]:
    """Names an import binds: ``mod.func(...)`` on one of them is a module's function
    (e.g. a project module's ``list_parts``), never a boto3 client's operation."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


@lru_cache(maxsize=1)
def _every_method() -> frozenset[str]:
    return frozenset({m for s in SERVICES for m in operations()[s]} | set(_S3_EXTRA_METHODS))


def _calls_in(
    nodes: Iterable[ast.AST], path: str, transact_kinds: set[str], imported: set[str]
) -> list[AwsCall]:
    calls: list[AwsCall] = []
    every_method = _every_method()
    for top in nodes:
        for node in ast.walk(top):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            if isinstance(node.func.value, ast.Name) and node.func.value.id in imported:
                continue
            receiver = ast.unparse(node.func.value)
            if method in ("get_paginator", "generate_presigned_url", "get_waiter"):
                if method == "get_waiter":
                    continue  # waiters poll Describe* calls: none in AutoStack's paths
                argument = node.args[0] if node.args else None
                for keyword in node.keywords:
                    if keyword.arg in ("operation_name", "ClientMethod"):
                        argument = keyword.value
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    raise ValueError(f"{path}:{node.lineno}: {method} with a non-literal operation")
                method = argument.value
            elif method in _CLIENT_HELPERS or method not in every_method:
                continue
            if method in _S3_EXTRA_METHODS:
                service: str | None = "s3" if _RECEIVER_HINTS["s3"].search(receiver) else None
            else:
                service = _service_for(receiver, method, f"{path}:{node.lineno}")
            if service is None:
                continue
            actions = iam_actions(service, method, transact_kinds)
            calls.append(AwsCall(path, node.lineno, service, method, actions))
    return calls


def _parse(path: Path) -> ast.Module:
    """A file's tree, parsed once per process while the file is unchanged (read-only)."""
    return _parse_cached(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=2048)
def _parse_cached(path: Path, _mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _parse_modules(source_files: Iterable[Path], roots: list[Path]) -> dict[str, _Module]:
    modules: dict[str, _Module] = {}
    for path in sorted(set(source_files)):
        tree = _parse(path)
        module = _Module(path, _module_name(path, roots), tree)
        module.functions = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        module.transact_kinds = _transact_kinds(tree)
        module.imported = _imported_names(tree)
        modules[module.name] = module
    return modules


def _loaded(modules: dict[str, _Module], entry_names: set[str]) -> set[str]:
    """Modules imported, directly or transitively, by the entry modules."""
    loaded: set[str] = set()
    pending = list(entry_names)
    while pending:
        name = pending.pop()
        if name in loaded or name not in modules:
            continue
        loaded.add(name)
        for imported in _imports(modules[name]):
            # "from a.b import c" loads a, a.b and (if it is a module) a.b.c
            parts = imported.split(".")
            pending.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return loaded


def loaded_files(
    entry_files: list[Path], source_files: list[Path], roots: list[Path]
) -> list[Path]:
    """The source files the entry files load (themselves included)."""
    modules = _parse_modules([*source_files, *entry_files], roots)
    names = _loaded(modules, {_module_name(path, roots) for path in entry_files})
    return sorted(modules[name].path for name in names)


def reachable_aws_calls(
    entry_files: list[Path], source_files: list[Path], roots: list[Path]
) -> list[AwsCall]:
    """The AWS calls reachable from the entry files (see the module docstring)."""
    modules = _parse_modules([*source_files, *entry_files], roots)
    loaded = _loaded(modules, {_module_name(path, roots) for path in entry_files})

    bodies: list[tuple[_Module, Sequence[ast.AST]]] = []
    reached_names: set[str] = set()
    for name in loaded:
        module = modules[name]
        level = _module_level(module.tree)
        bodies.append((module, level))
        reached_names |= _mentioned_names(level)
        for function in module.functions:
            if _is_registered_handler(function):
                bodies.append((module, function.body))
                reached_names |= _mentioned_names(function.body)

    done: set[int] = set()
    changed = True
    while changed:
        changed = False
        for module in modules.values():
            if module.name not in loaded:
                continue  # its functions cannot run
            for function in module.functions:
                if id(function) in done or function.name not in reached_names:
                    continue
                done.add(id(function))
                bodies.append((module, function.body))
                reached_names |= _mentioned_names(function.body)
                changed = True
        # Dunder methods (__init__, __enter__...) run implicitly: count them all.
        for module in modules.values():
            for function in module.functions:
                if (
                    id(function) not in done
                    and function.name.startswith("__")
                    and function.name.endswith("__")
                    and module.name in loaded
                ):
                    done.add(id(function))
                    bodies.append((module, function.body))
                    reached_names |= _mentioned_names(function.body)
                    changed = True

    calls: dict[tuple[str, int, str], AwsCall] = {}
    for module, nodes in bodies:
        relative = module.path.as_posix()
        found = _calls_in(nodes, relative, module.transact_kinds, module.imported)
        for call in found:
            calls[(call.path, call.line, call.method)] = call
    return sorted(calls.values(), key=lambda c: (c.path, c.line))


def all_aws_calls(source_files: list[Path]) -> list[AwsCall]:
    """Every AWS call in the files, reachable or not."""
    calls: list[AwsCall] = []
    for path in sorted(source_files):
        tree = _parse(path)
        calls.extend(
            _calls_in([tree], path.as_posix(), _transact_kinds(tree), _imported_names(tree))
        )
    return calls

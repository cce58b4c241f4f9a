"""Go: go.mod (module, go directive, requires) and the package that holds func main."""

from __future__ import annotations

import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    WorkerFinding,
    join,
    line_in,
)
from runner.analysis.frameworks import detect_framework

_REQUIRE = re.compile(r"^\s*(?:require\s+)?([\w.\-]+\.[\w.\-/]+)\s+(v[\w.\-+]+)([^\n]*)", re.M)


def discover(ctx: Context, directory: str) -> Candidate | None:
    rel = join(directory, "go.mod")
    text = ctx.read(rel)
    if text is None:
        return None
    module = re.search(r"^module\s+(\S+)", text, re.M)
    name = (
        module.group(1).rsplit("/", 1)[-1]
        if module
        else (ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1])
    )
    cand = Candidate(directory, "go", "go", name, rel, package_manager="go modules")
    for m in _REQUIRE.finditer(text):
        if m.group(1) not in cand.deps:
            cand.deps[m.group(1)] = Dep(
                m.group(1),
                m.group(2).lstrip("v"),
                rel,
                line_in(text, m.start()),
                transitive="// indirect" in m.group(3),
            )
    toolchain = re.search(r"^toolchain\s+go(\S+)", text, re.M)
    go = re.search(r"^go\s+(\d[\w.]*)", text, re.M)
    found = toolchain or go
    if found:
        cand.runtime_version = found.group(1)
        cand.runtime_evidence = Evidence(file=rel, line=line_in(text, found.start()))
    return cand


def _package(app_path: str, main_file: str) -> str:
    """``./cmd/api`` for a main file in the app at ``app_path``, ``.`` for the app folder."""
    main_dir = main_file.rsplit("/", 1)[0] if "/" in main_file else "."
    if main_dir == app_path:
        return "."
    return "./" + (main_dir[len(app_path) + 1 :] if app_path != "." else main_dir)


def complete(ctx: Context, draft: Draft) -> None:
    spec = detect_framework(draft)
    cand = draft.cand
    if (
        spec
        and spec.id == "net-http"
        and not draft.hints_of("server")
        and not draft.hints_of("port")
    ):
        draft.framework, draft.framework_evidence = None, []
        spec = None
    mains = sorted(
        draft.hints_of("main"),
        key=lambda h: (
            0
            if any(
                p.file.rsplit("/", 1)[0] == h.file.rsplit("/", 1)[0] for p in draft.hints_of("port")
            )
            else 1,
            h.file.count("/"),
            h.file,
        ),
    )
    if mains:
        draft.build_command = f"CGO_ENABLED=0 go build -o app {_package(cand.path, mains[0].file)}"
        draft.start_command = "./app"
    for other in mains[1:]:
        # another command of the module that is a background process: cmd/worker, cmd/consumer
        package = _package(cand.path, other.file)
        name = package.rsplit("/", 1)[-1]
        if re.search(r"worker|consumer|queue|jobs|scheduler|cron", name):
            draft.workers.append(
                WorkerFinding(
                    name, "go", f"go run {package}", Evidence(file=other.file, line=other.line)
                )
            )
    draft.install_command = "go mod download"
    draft.kind = "web" if spec or draft.hints_of("server") else ("cli" if mains else None)
    if spec and spec.default_port:
        draft.add_default_port(spec.default_port, f"{spec.id} default")
    tests = [f for f in draft.owned if f.endswith("_test.go")]
    if tests:
        draft.test_command = "go test ./..."
        draft.tests_evidence = [Evidence(file=sorted(tests)[0])]

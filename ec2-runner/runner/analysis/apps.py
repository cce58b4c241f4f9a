"""Finding the applications in a tree and finishing each one: ownership of files, choice
between ecosystems in one folder, port resolution, start commands, health checks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import cast

from chalicelib.models.profile import App, Evidence, Framework, Port, ValueSource
from runner.analysis.buildfacts import build_facts
from runner.analysis.context import (
    FIXTURE_DIRS,
    Candidate,
    Context,
    Draft,
    PortFinding,
    in_fixture_dir,
    join,
    nearest_dir,
    owning_dir,
    parent_dir,
)
from runner.analysis.ecosystems import dotnet, go, jvm, node, php, python, ruby, rust, static
from runner.analysis.frameworks import PLAIN_DEFAULT_PORT
from runner.analysis.hints import Hint
from runner.analysis.infra import Infra
from runner.analysis.routes import app_routes

MODULES = {
    "go": go,
    "rust": rust,
    "jvm": jvm,
    "dotnet": dotnet,
    "php": php,
    "ruby": ruby,
    "python": python,
    "node": node,
    "static": static,
}
_ECO_ORDER = list(MODULES)
# Folders whose manifests are fixtures, examples or test harnesses, not deployable apps.
_SKIP_PARTS = FIXTURE_DIRS
MAX_APPS = 100
_LANG_ECO = {
    "python": "python",
    "javascript": "node",
    "typescript": "node",
    "go": "go",
    "java": "jvm",
    "kotlin": "jvm",
    "ruby": "ruby",
    "php": "php",
    "rust": "rust",
    "csharp": "dotnet",
    "html": "static",
}
_ASSET_DIRS = frozenset(
    {
        "templates",
        "views",
        "static",
        "assets",
        "public",
        "resources",
        "layouts",
        "partials",
        "_includes",
        "_layouts",
        "www",
        "wwwroot",
        "html",
    }
)
_HEALTH_ORDER = (
    "/healthz",
    "/health",
    "/api/health",
    "/health/",
    "/healthcheck",
    "/health-check",
    "/livez",
    "/readyz",
    "/ready",
    "/up",
    "/ping",
    "/status",
    "/api/status",
)
_PROC_PORT = re.compile(
    r"(?:--port[=\s]+|-p\s+|--bind[=\s]+\S*?:|-b\s+\S*?:|\s\S*?0\.0\.0\.0:)(\d{2,5})\b"
)


@dataclass
class Finished:
    app: App
    draft: Draft


def _skipped(path: str) -> bool:
    return in_fixture_dir(path)


def _bare(ctx: Context, directory: str, ecosystem: str, language: str, manifest: str) -> Candidate:
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    cand = Candidate(directory, ecosystem, language, name, manifest)
    cand.data.update(
        {
            "scripts": {},
            "req_files": [],
            "pytest_config": False,
            "main": None,
            "text": "",
            "wrapper": False,
            "framework": "html",
        }
    )
    if ecosystem == "python":
        cand.package_manager = "pip"
    if ecosystem == "node":
        cand.package_manager = "npm"
    return cand


def discover(ctx: Context, infra: Infra, primary: str | None) -> list[Candidate]:
    cands: list[Candidate] = []
    for d in sorted(ctx.dirs, key=lambda x: (x.count("/") if x != "." else -1, x)):
        if _skipped(d):
            continue
        for eco in _ECO_ORDER:
            try:
                c = MODULES[eco].discover(ctx, d)
            except Exception as exc:  # a malformed manifest must not stop the analysis
                ctx.unreadable(f"the {eco} manifest in '{d}'", exc)
                c = None
            if c is not None:
                cands.append(c)
    taken = {c.path for c in cands}

    def covered(d: str) -> bool:
        return nearest_dir(d, taken) is not None

    # Compose build contexts without a manifest: an app in the language found there.
    for svc in sorted(infra.compose, key=lambda s: (s.file, s.name)):
        build = svc.build
        if build and build not in taken and ctx.is_dir(build) and not _skipped(build):
            lang = _dominant_language(ctx, build)
            build_eco = _LANG_ECO.get(lang or "")
            if build_eco:
                cands.append(
                    _bare(ctx, build, build_eco, lang or build_eco, join(build, "Dockerfile"))
                )
                taken.add(build)

    # Plain PHP and plain HTML: the topmost folder with an index file and no app above it
    # (template and asset folders of a server app do not count).
    def index_files(allow_assets: bool) -> None:
        for d in sorted(ctx.dirs, key=lambda x: (x.count("/") if x != "." else -1, x)):
            if _skipped(d) or covered(d):
                continue
            if not allow_assets and d.rsplit("/", 1)[-1] in _ASSET_DIRS:
                continue
            names = ctx.names(d)
            if "index.php" in names:
                cands.append(php.plain_candidate(ctx, d))
                taken.add(d)
            elif "index.html" in names:
                cands.append(static.html_candidate(ctx, d))
                taken.add(d)

    index_files(allow_assets=False)
    # Code without any manifest (a lone app.py, main.go, server.js): the root is an app in
    # the primary language, unless an app of that ecosystem was found already.
    root_eco = _LANG_ECO.get(primary or "")
    code = [
        f.rel
        for f in ctx.files
        if f.language == primary and not set(f.rel.split("/")[:-1]) & (_ASSET_DIRS | _SKIP_PARTS)
    ]
    if (
        root_eco
        and root_eco != "static"
        and code
        and not any(c.ecosystem == root_eco for c in cands)
    ):
        cands.append(_bare(ctx, ".", root_eco, primary or root_eco, code[0]))
        taken.add(".")
    if not cands:
        index_files(allow_assets=True)
    if len(cands) > MAX_APPS:
        # a hostile or vendored tree can hold thousands of manifests: keep the top-most ones
        cands.sort(key=lambda c: (c.path.count("/") if c.path != "." else -1, c.path))
        ctx.warnings.append(
            f"{len(cands)} application folders found; only the first {MAX_APPS} were analyzed"
        )
        del cands[MAX_APPS:]
    return cands


def _dominant_language(ctx: Context, directory: str) -> str | None:
    counts: dict[str, int] = {}
    for f in ctx.files:
        if (directory == "." or f.rel.startswith(directory + "/")) and f.language in _LANG_ECO:
            counts[f.language] = counts.get(f.language, 0) + f.size
    return max(sorted(counts), key=lambda k: counts[k]) if counts else None


def _drafts(ctx: Context, cands: list[Candidate]) -> list[Draft]:
    paths = {c.path for c in cands}

    def owner(rel: str) -> str | None:
        return owning_dir(rel, paths)

    owned: dict[str, list[str]] = {p: [] for p in paths}
    for f in ctx.files:
        o = owner(f.rel)
        if o is not None:
            owned[o].append(f.rel)
    hints: dict[str, list[Hint]] = {p: [] for p in paths}
    for h in ctx.hints:
        o = owner(h.file)
        if o is not None:
            hints[o].append(h)
    drafts = []
    for c in cands:
        draft = Draft(cand=c, owned=owned[c.path], hints=hints[c.path])
        try:
            MODULES[c.ecosystem].complete(ctx, draft)
        except Exception as exc:  # a malformed config must not stop the analysis
            ctx.unreadable(c.manifest, exc)
            continue
        drafts.append(draft)
    return drafts


def _score(d: Draft) -> int:
    if d.framework and d.kind in ("web", "worker"):
        return 4 if d.framework not in ("php", "html") else 2
    if d.framework:
        return 3
    if d.hints_of("server") or d.hints_of("port"):
        return 2
    if d.cand.data.get("start_fallback"):
        return 0  # only a guessed entry file: a library unless nothing else is found
    return 1 if d.start_command else 0


def select(ctx: Context, cands: list[Candidate]) -> list[Candidate]:
    """One candidate per folder, minus workspace roots, test projects and bare libraries."""
    if not cands:
        return []
    drafts = _drafts(ctx, cands)
    by_dir: dict[str, list[Draft]] = {}
    for d in drafts:
        by_dir.setdefault(d.cand.path, []).append(d)
    chosen: list[Draft] = []
    for path in sorted(by_dir):
        group = sorted(by_dir[path], key=lambda d: (-_score(d), _ECO_ORDER.index(d.cand.ecosystem)))
        best = group[0]
        best.cand.data["siblings"] = [g.cand for g in group[1:]]
        chosen.append(best)
    keep = []
    for d in chosen:
        if d.cand.ecosystem == "dotnet" and d.cand.data.get("is_test"):
            continue
        if d.cand.workspace_root and not d.framework:
            continue
        keep.append(d)
    real = [d for d in keep if _score(d) > 0]
    if real:
        keep = real
    elif not keep:
        keep = chosen[:1]
    return [d.cand for d in keep]


def build_apps(ctx: Context, infra: Infra, cands: list[Candidate]) -> list[Finished]:
    drafts = _drafts(ctx, cands)
    out = []
    for draft in sorted(drafts, key=lambda d: d.cand.path):
        out.append(Finished(_finish(ctx, infra, draft), draft))
    return out


def _in_dir(rel: str, directory: str) -> bool:
    return parent_dir(rel) == directory


def _finish(ctx: Context, infra: Infra, draft: Draft) -> App:
    cand = draft.cand
    path = cand.path
    procs = [p for p in infra.procfile if p.directory == path]
    web_proc = next((p for p in procs if p.name == "web"), None)
    dockerfiles = [d for d in infra.dockerfiles if d.directory == path]
    compose = [s for s in infra.compose if s.build == path]
    if draft.kind is None:
        if draft.hints_of("server") or draft.hints_of("port") or web_proc:
            draft.kind = "web"
        elif procs and not web_proc:
            draft.kind = "worker"
        elif any(
            w.system in ("celery", "rq", "dramatiq", "huey", "sidekiq", "bullmq")
            for w in draft.workers
        ):
            draft.kind = "worker"
        else:
            draft.kind = "cli"
    if draft.kind == "web" and not any(p.source == "framework_default" for p in draft.ports):
        default = PLAIN_DEFAULT_PORT.get(cand.ecosystem)
        if default:
            draft.add_default_port(default, f"{cand.ecosystem} default")
    port = (
        _resolve_port(ctx, draft, web_proc, dockerfiles, compose, infra)
        if draft.kind == "web"
        else None
    )
    start = draft.start_command
    # derived from the framework and the app's entry point, unless the project says otherwise
    start_ev = [Evidence(file=cand.manifest, detail="derived", kind="config")]
    start_conf: str | None = "medium"
    if web_proc is not None or (draft.kind in ("worker", "cli") and procs and start is None):
        proc = web_proc or procs[0]
        start = proc.command
        start_ev = [Evidence(file=proc.file, line=proc.line, detail="Procfile", kind="config")]
        start_conf = "high"
    if start is None:
        # what the project already runs: a compose command, then the Dockerfile's CMD
        svc = next((s for s in compose if s.command), None)
        dock = next((d for d in dockerfiles if d.cmd), None)
        if svc is not None:
            start = svc.command
            start_ev = [Evidence(file=svc.file, line=svc.line, detail="command", kind="config")]
        elif dock is not None and dock.cmd:
            start = _exec_form(dock.cmd)
            start_ev = [Evidence(file=dock.file, detail="CMD", kind="config")]
        start_conf = "high"
    if start is None:
        start_ev, start_conf = [], None
    if start is not None:
        start = start.replace("{port}", str(port.value if port else 8080))
    health, health_ev, health_conf = _health(ctx, draft, dockerfiles)
    if port is not None and draft.kind == "web":
        _expose_warning(draft, port, dockerfiles)
        if port.source == "code" and port.env_var is None:
            ev = port.evidence[0]
            draft.warnings.append(
                f"app '{path}': port {port.value} hard-coded in {ev.file}:{ev.line}; "
                "read it from the PORT environment variable"
            )
    if start is None and draft.kind != "static":
        draft.warnings.append(f"app '{path}': no start command found")
    framework = None
    if draft.framework:
        framework = Framework(
            name=draft.framework,
            version=draft.framework_version,
            evidence=_sorted_ev(draft.framework_evidence),
        )
    evidence = [Evidence(file=cand.manifest, detail="manifest")]
    if cand.runtime_evidence is not None:
        evidence.append(cand.runtime_evidence)
    facts = build_facts(ctx, cand.ecosystem, path)
    return App(
        path=path,
        name=cand.name,
        language=_app_language(ctx, draft),
        runtime_version=cand.runtime_version,
        package_manager=cand.package_manager,
        framework=framework,
        kind=draft.kind,  # type: ignore[arg-type]
        build_command=draft.build_command,
        start_command=start,
        start_evidence=start_ev,
        start_confidence=start_conf,  # type: ignore[arg-type]
        port=port,
        healthcheck_path=health,
        healthcheck_evidence=health_ev,
        healthcheck_confidence=health_conf,  # type: ignore[arg-type]
        static_output_dir=draft.static_output_dir if draft.kind == "static" else None,
        evidence=_sorted_ev(evidence),
        ecosystem=cand.ecosystem,
        install_command=draft.install_command,
        test_command=draft.test_command,
        lockfile=facts.lockfile,
        lockfile_kind=facts.lockfile_kind,
        runtime_source=cand.runtime_evidence.file if cand.runtime_evidence else None,
        runtime_constraint=_constraint(cand),
        dependencies=sorted(cand.deps),
        release_command=facts.release_command,
        runtime_dirs=facts.runtime_dirs,
        submodules=ctx.exists(".gitmodules"),
    )


def _constraint(cand: Candidate) -> str | None:
    """The runtime declaration as written (``>=3.11``), not only its first number."""
    detail = cand.runtime_evidence.detail if cand.runtime_evidence else None
    for prefix in ("requires-python ", "engines.node "):
        if detail and detail.startswith(prefix):
            return detail[len(prefix) :]
    return cand.runtime_version


def _exec_form(cmd: str) -> str:
    """``["node", "server.js"]`` -> ``node server.js``; the shell form is kept as is."""
    try:
        parts = json.loads(cmd)
    except ValueError:
        return cmd
    if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
        return " ".join(parts)
    return cmd


def _app_language(ctx: Context, draft: Draft) -> str:
    cand = draft.cand
    if cand.ecosystem == "node":
        ts = sum(ctx.sizes[f] for f in draft.owned if f.endswith((".ts", ".tsx", ".mts", ".cts")))
        js = sum(ctx.sizes[f] for f in draft.owned if f.endswith((".js", ".jsx", ".mjs", ".cjs")))
        if ts or js:
            return "typescript" if ts >= js else "javascript"
    if cand.ecosystem == "jvm":
        kt = sum(1 for f in draft.owned if f.endswith(".kt"))
        java = sum(1 for f in draft.owned if f.endswith(".java"))
        if kt or java:
            return "kotlin" if kt > java else "java"
    return cand.language


def _sorted_ev(items: list[Evidence]) -> list[Evidence]:
    unique = {(e.file, e.line or 0, e.detail or ""): e for e in items}
    return [unique[k] for k in sorted(unique)]


def _is_test_file(rel: str) -> bool:
    return bool(
        re.search(r"(^|/)(tests?|spec|__tests__|e2e)/|[._-](test|spec)\.\w+$|(^|/)test_[^/]+$", rel)
    )


def _resolve_port(ctx, draft: Draft, web_proc, dockerfiles, compose, infra: Infra) -> Port | None:
    path = draft.cand.path
    code = [h for h in draft.hints_of("port") if not _is_test_file(h.file)]
    findings: list[PortFinding] = []
    # The start command wins over the code: ``--port``/``--bind`` overrides what the code
    # binds when run directly (``app.run(port=5000)`` under ``__main__``).
    if web_proc is not None:
        m = _PROC_PORT.search(" " + web_proc.command)
        if m:
            findings.append(
                PortFinding(
                    int(m.group(1)), "procfile", Evidence(file=web_proc.file, line=web_proc.line)
                )
            )
    for d in dockerfiles:
        if d.cmd and (m := _PROC_PORT.search(" " + d.cmd.replace('"', " ").replace(",", " "))):
            findings.append(
                PortFinding(int(m.group(1)), "dockerfile", Evidence(file=d.file, detail="CMD"))
            )
    if code:
        code.sort(key=lambda h: (0 if h.extra else 1, h.file.count("/"), h.file, h.line))
        h = code[0]
        findings.append(
            PortFinding(int(h.value), "code", Evidence(file=h.file, line=h.line), h.extra)
        )
    findings += [p for p in draft.ports if p.source == "config"]
    for rel, value, line in infra.fly_ports:
        if _in_dir(rel, path):
            findings.append(
                PortFinding(value, "config", Evidence(file=rel, line=line, detail="internal_port"))
            )
    for name in (".env", ".env.example", ".env.sample", ".env.dist"):
        rel = join(path, name)
        text = ctx.read(rel) if ctx.exists(rel) else None
        if text:
            m = re.search(r"^[ \t]*(?:export[ \t]+)?PORT[ \t]*=[ \t]*[\"']?(\d{2,5})\b", text, re.M)
            if m:
                findings.append(
                    PortFinding(
                        int(m.group(1)),
                        "env",
                        Evidence(file=rel, line=text.count("\n", 0, m.start()) + 1),
                        "PORT",
                    )
                )
                break
    for d in dockerfiles:
        for var, value, line in d.env_ports:
            findings.append(
                PortFinding(
                    value, "dockerfile", Evidence(file=d.file, line=line, detail=f"ENV {var}"), var
                )
            )
        for value, line in d.expose[:1]:
            findings.append(
                PortFinding(value, "dockerfile", Evidence(file=d.file, line=line, detail="EXPOSE"))
            )
    for s in compose:
        if s.ports:
            findings.append(
                PortFinding(
                    s.ports[0],
                    "config",
                    Evidence(file=s.file, line=s.line, detail=f"services.{s.name}.ports"),
                )
            )
    findings += [p for p in draft.ports if p.source == "framework_default"]
    valid = [f for f in findings if 1 <= f.value <= 65535]
    if not valid:
        return None
    best = valid[0]
    agree = sum(1 for f in valid if f.value == best.value)
    return Port(
        value=best.value,
        source=cast(ValueSource, best.source),
        env_var=best.env_var,
        evidence=[best.evidence],
        confidence="low"
        if best.source == "framework_default"
        else ("high" if agree > 1 or best.source != "env" else "medium"),
    )


def _expose_warning(draft: Draft, port: Port, dockerfiles) -> None:
    if port.source in ("dockerfile", "framework_default"):
        return
    for d in dockerfiles:
        exposed = [p for p, _ in d.expose]
        if exposed and port.value not in exposed:
            ev = port.evidence[0]
            where = f"{ev.file}:{ev.line}" if ev.line else ev.file
            draft.warnings.append(
                f"app '{draft.cand.path}': Dockerfile EXPOSE {', '.join(map(str, exposed))} "
                f"({d.file}:{d.expose[0][1]}) disagrees with port {port.value} "
                f"from {port.source} ({where})"
            )


def _health(
    ctx: Context, draft: Draft, dockerfiles
) -> tuple[str | None, list[Evidence], str | None]:
    """(path, evidence, confidence): a route the app really serves, else ``/`` for web apps."""
    routes = [(p, ev) for p, ev in app_routes(ctx, draft) if not _is_test_file(ev.file) and p]
    by_path: dict[str, Evidence] = {}
    for p, ev in routes:
        by_path.setdefault(p.rstrip("/") or "/", ev)
    for candidate in _HEALTH_ORDER:
        key = candidate.rstrip("/")
        if key in by_path:
            return key, [by_path[key]], "high"
    healthy = sorted(p for p in by_path if _HEALTH_WORD.search(p))
    if healthy:
        return healthy[0], [by_path[healthy[0]]], "high"
    if draft.health:
        return draft.health[0], [_with_kind(draft.health[1], "config")], "high"
    for d in dockerfiles:
        if d.healthcheck:
            m = re.search(r"https?://[^/\s]+(/[\w./-]*)", d.healthcheck)
            if m:
                ev = Evidence(file=d.file, detail="HEALTHCHECK", kind="config")
                return m.group(1), [ev], "high"
    if draft.kind == "web":
        return "/", [], "low"
    return None, [], None


_HEALTH_WORD = re.compile(r"health|live|ready|ping|status|(^|/)up$")


def _with_kind(ev: Evidence, kind: str) -> Evidence:
    return ev if ev.kind else ev.model_copy(update={"kind": kind})

"""JavaScript / TypeScript: package.json, lock files, framework configs."""

from __future__ import annotations

import json
import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    PortFinding,
    WorkerFinding,
    clean_version,
    find_line,
    first_version,
    join,
)
from runner.analysis.frameworks import detect_framework

_LOCKS = (
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("package-lock.json", "npm"),
    ("npm-shrinkwrap.json", "npm"),
)
_SCRIPT_PORT = re.compile(r"(?:\s(?:-p|--port)[=\s]+|\bPORT=)(\d{2,5})\b")
_NPM_DEFAULT_TEST = "no test specified"
# frameworks whose files are routes (elsewhere routes/status.js is a module, not a route)
_FILE_ROUTED = frozenset({"nextjs", "nuxt", "sveltekit", "remix", "react-router", "astro"})
_ROUTE_FILE = re.compile(
    r"(?:^|/)(?:src/)?(?:app|pages|server|routes)/(?P<route>(?:api/)?(?:healthz?|ready|ping|status))"
    r"(?:/route|/\+server|/index)?\.(?:[cm]?[jt]sx?)$"
)


def load_package_json(ctx: Context, rel: str) -> dict | None:
    text = ctx.read(rel)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def discover(ctx: Context, directory: str) -> Candidate | None:
    rel = join(directory, "package.json")
    if not ctx.exists(rel):
        return None
    pkg = load_package_json(ctx, rel)
    if pkg is None:
        return None
    text = ctx.read(rel) or ""
    names = set(ctx.names(directory))
    language = "typescript" if "tsconfig.json" in names else "javascript"
    name = pkg.get("name") if isinstance(pkg.get("name"), str) else None
    cand = Candidate(directory, "node", language, name or _dir_name(ctx, directory), rel)
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        deps = pkg.get(section)
        if isinstance(deps, dict):
            for dep, version in deps.items():
                if isinstance(dep, str) and dep not in cand.deps:
                    cand.deps[dep] = Dep(
                        dep,
                        clean_version(version) if isinstance(version, str) else None,
                        rel,
                        find_line(text, f'"{dep}"'),
                    )
    language_ts = "typescript" in cand.deps
    if language_ts:
        cand.language = "typescript"
    scripts: dict = pkg["scripts"] if isinstance(pkg.get("scripts"), dict) else {}
    cand.data["scripts"] = {k: v for k, v in scripts.items() if isinstance(v, str)}
    cand.data["main"] = pkg.get("main") if isinstance(pkg.get("main"), str) else None
    cand.data["text"] = text
    cand.workspace_root = bool(pkg.get("workspaces")) or bool(
        names & {"pnpm-workspace.yaml", "lerna.json", "nx.json", "turbo.json"}
    )
    pm = pkg.get("packageManager")
    if isinstance(pm, str) and pm.split("@")[0] in ("npm", "yarn", "pnpm", "bun"):
        cand.package_manager = pm.split("@")[0]
    else:
        cand.package_manager = _pm_from_locks(ctx, directory)
    _runtime(ctx, directory, names, pkg, cand)
    return cand


def _pm_from_locks(ctx: Context, directory: str) -> str:
    # Workspaces keep one lock file at the top: look upwards too.
    d = directory
    while True:
        names = set(ctx.names(d))
        for lock, pm in _LOCKS:
            if lock in names:
                return pm
        if d == ".":
            return "npm"
        d = d.rsplit("/", 1)[0] if "/" in d else "."


def _has_lock(ctx: Context, directory: str) -> bool:
    """A lock file here or in a parent folder (workspaces keep one at the top)."""
    d = directory
    while True:
        if any(lock in ctx.names(d) for lock, _ in _LOCKS):
            return True
        if d == ".":
            return False
        d = d.rsplit("/", 1)[0] if "/" in d else "."


def _dir_name(ctx: Context, directory: str) -> str:
    return ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]


def _runtime(ctx: Context, directory: str, names: set[str], pkg: dict, cand: Candidate) -> None:
    for fname in (".nvmrc", ".node-version"):
        if fname in names:
            first = (ctx.read(join(directory, fname)) or "").strip().splitlines()
            if first and first[0].strip():
                value = first[0].strip()
                cand.runtime_version = value.lstrip("v") if first_version(value) else value
                cand.runtime_evidence = Evidence(file=join(directory, fname), line=1)
                return
    engines = pkg.get("engines")
    if isinstance(engines, dict) and isinstance(engines.get("node"), str):
        version = first_version(engines["node"])
        if version:
            cand.runtime_version = version
            cand.runtime_evidence = Evidence(
                file=join(directory, "package.json"), detail=f"engines.node {engines['node']}"
            )
            return
    volta = pkg.get("volta")
    if isinstance(volta, dict) and isinstance(volta.get("node"), str):
        cand.runtime_version = volta["node"]
        cand.runtime_evidence = Evidence(file=join(directory, "package.json"), detail="volta.node")


def lock_version(ctx: Context, directory: str, name: str) -> str | None:
    """The locked version of a dependency, from the nearest lock file that has it."""
    d = directory
    while True:
        key = ("node-lock", d, name)
        if key not in ctx.memo:  # many workspace apps share one big lock file: search it once
            ctx.memo[key] = _lock_version_in(ctx, d, name)
        found = ctx.memo[key]
        if isinstance(found, str):
            return found
        if d == ".":
            return None
        d = d.rsplit("/", 1)[0] if "/" in d else "."


def _lock_version_in(ctx: Context, d: str, name: str) -> str | None:
    esc = re.escape(name)
    names = set(ctx.names(d))
    if "package-lock.json" in names:
        text = ctx.read(join(d, "package-lock.json")) or ""
        m = re.search(
            r'"(?:[^"\n]*/)?node_modules/' + esc + r'"\s*:\s*\{\s*"version"\s*:\s*"([^"]+)"',
            text,
        )
        if m is None:
            m = re.search(r'"' + esc + r'"\s*:\s*\{\s*"version"\s*:\s*"([^"]+)"', text)
        if m:
            return m.group(1)
    if "yarn.lock" in names:
        text = ctx.read(join(d, "yarn.lock")) or ""
        m = re.search(r'^"?' + esc + r'@[^\n]*:\n\s+version:?\s+"?([^"\n]+)"?', text, re.M)
        if m:
            return m.group(1)
    if "pnpm-lock.yaml" in names:
        text = ctx.read(join(d, "pnpm-lock.yaml")) or ""
        m = re.search(
            r"^\s+'?" + esc + r"'?:\s*\n\s+specifier:[^\n]*\n\s+version:\s*'?(\d[^\s('\n]*)",
            text,
            re.M,
        )
        if m is None:
            m = re.search(r"^\s+'?/?" + esc + r"[@/](\d[^\s(:'\n]*)'?:", text, re.M)
        if m:
            return m.group(1)
    if "bun.lock" in names:
        text = ctx.read(join(d, "bun.lock")) or ""
        m = re.search(r'"' + esc + r'"\s*:\s*\[\s*"' + esc + r'@(\d[^"]*)"', text)
        if m:
            return m.group(1)
    return None


def _config_text(ctx: Context, draft: Draft, stem: str) -> tuple[str | None, str | None]:
    for ext in ("ts", "mjs", "js", "cjs", "mts"):
        rel = draft.rel(f"{stem}.{ext}")
        if ctx.exists(rel):
            return rel, ctx.read(rel) or ""
    return None, None


def _run(pm: str, script: str) -> str:
    if script in ("start", "test") and pm != "bun":
        return f"{pm} {script}"
    return f"{pm} run {script}"


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    pm = cand.package_manager or "npm"
    scripts: dict[str, str] = cand.data["scripts"]
    spec = detect_framework(draft)
    if spec and draft.framework_evidence:
        locked = lock_version(ctx, cand.path, find_dep_name(draft))
        if locked:
            draft.framework_version = locked
    has_lock = _has_lock(ctx, cand.path)
    draft.install_command = {
        "npm": "npm ci" if has_lock else "npm install",
        "yarn": "yarn install --frozen-lockfile" if has_lock else "yarn install",
        "pnpm": "pnpm install --frozen-lockfile" if has_lock else "pnpm install",
        "bun": "bun install",
    }[pm]
    if "build" in scripts:
        draft.build_command = _run(pm, "build")
    framework = draft.framework
    kind = spec.kind if spec else None
    output = spec.static_output_dir if spec else None
    start = None
    for script in ("start:prod", "start", "serve"):
        if (
            script in scripts
            and "react-scripts start" not in scripts[script]
            and not (
                kind == "static"
                and script != "start:prod"
                and re.search(
                    r"\b(vite|ng serve|gatsby develop|docusaurus start|eleventy --serve)\b",
                    scripts[script],
                )
            )
        ):
            start = _run(pm, script)
            break
    if framework == "nextjs":
        _, text = _config_text(ctx, draft, "next.config")
        if text and re.search(r"""output\s*:\s*["']export["']""", text):
            kind, output = "static", "out"
    elif framework == "astro":
        _, text = _config_text(ctx, draft, "astro.config")
        if text and re.search(r"""output\s*:\s*["'](server|hybrid)["']""", text):
            kind, output = "web", None
            start = start or "node ./dist/server/entry.mjs"
    elif framework == "sveltekit":
        if "@sveltejs/adapter-static" in cand.deps:
            kind, output = "static", "build"
        elif start is None:
            start = "node build"
    elif framework == "nuxt":
        if re.search(r"\bnuxt generate\b", scripts.get("build", "")) or (
            "generate" in scripts and "build" not in scripts
        ):
            kind, output = "static", ".output/public"
            draft.build_command = (
                _run(pm, "generate") if "generate" in scripts else draft.build_command
            )
        elif start is None:
            start = "node .output/server/index.mjs"
    elif framework == "angular":
        output = _angular_output(ctx, draft) or output
    elif framework == "vite":
        _, text = _config_text(ctx, draft, "vite.config")
        m = re.search(r"""outDir\s*:\s*["']([^"']+)["']""", text or "")
        if m:
            output = m.group(1)
    elif framework == "nestjs" and start is None:
        start = "node dist/main"
    elif framework in ("remix", "react-router") and start is None:
        start = (
            "npx remix-serve ./build/server/index.js"
            if framework == "remix"
            else "npx react-router-serve ./build/server/index.js"
        )
    if start is None and kind != "static":
        main = cand.data.get("main")
        candidates = ([main] if main else []) + [
            "server.js",
            "index.js",
            "app.js",
            "src/server.js",
            "src/index.js",
            "src/app.js",
            "main.js",
        ]
        for entry in candidates:
            if entry and ctx.exists(draft.rel(entry)):
                start = f"node {entry}"
                cand.data["start_fallback"] = True
                break
        if start is None:
            for entry in ("src/index.ts", "src/server.ts", "src/main.ts", "index.ts", "server.ts"):
                if ctx.exists(draft.rel(entry)):
                    start = f"npx tsx {entry}"
                    cand.data["start_fallback"] = True
                    break
    if kind is None:
        if draft.hints_of("server") or draft.hints_of("port"):
            kind = "web"
        elif draft.hints_of("queue_worker"):
            kind = "worker"
        elif start is not None:
            kind = "cli"
    draft.kind = kind
    draft.start_command = None if kind == "static" else start
    draft.static_output_dir = output if kind == "static" else None
    # ports from scripts
    for script in ("start", "start:prod", "serve", "preview"):
        cmd = scripts.get(script)
        if cmd and kind != "static":
            m = _SCRIPT_PORT.search(" " + cmd)
            if m:
                draft.ports.append(
                    PortFinding(
                        int(m.group(1)),
                        "config",
                        Evidence(
                            file=cand.manifest,
                            line=find_line(cand.data["text"], f'"{script}"'),
                            detail=f"scripts.{script}",
                        ),
                    )
                )
                break
    if spec and spec.default_port and kind == "web":
        draft.add_default_port(spec.default_port, f"{framework} default")
    elif kind == "web" and not spec:
        draft.add_default_port(3000, "node default")
    # workers
    for script in sorted(scripts):
        if re.fullmatch(r"(worker|workers|queue|jobs)(:.*)?", script):
            draft.workers.append(
                WorkerFinding(
                    script,
                    _worker_system(cand),
                    _run(pm, script),
                    Evidence(
                        file=cand.manifest,
                        line=find_line(cand.data["text"], f'"{script}"'),
                        detail=f"scripts.{script}",
                    ),
                )
            )
    if not any(w.system != "procfile" for w in draft.workers):
        for h in draft.hints_of("queue_worker"):
            inner = h.file[len(cand.path) + 1 :] if cand.path != "." else h.file
            if re.search(r"(^|/)(worker|workers|queue|jobs)[^/]*\.(js|ts|mjs|cjs)$", inner):
                draft.workers.append(
                    WorkerFinding(
                        inner.rsplit("/", 1)[-1].split(".")[0],
                        _worker_system(cand),
                        f"node {inner}"
                        if inner.endswith(("js", "mjs", "cjs"))
                        else f"npx tsx {inner}",
                        Evidence(file=h.file, line=h.line),
                    )
                )
    # file-based routes (Next.js, Nuxt, SvelteKit, Remix/React Router) can be a health check
    if kind == "web" and draft.framework in _FILE_ROUTED:
        for rel in sorted(draft.owned):
            m = _ROUTE_FILE.search(rel)
            if m:
                route = "/" + m.group("route").replace("/route", "").rstrip("/")
                draft.health = (route, Evidence(file=rel, detail="file-based route"))
                break
    # tests
    test_script = scripts.get("test")
    test_files = [
        f for f in draft.owned if re.search(r"\.(test|spec)\.[cm]?[jt]sx?$|(^|/)__tests__/", f)
    ]
    if test_script and _NPM_DEFAULT_TEST not in test_script:
        draft.test_command = _run(pm, "test")
        draft.tests_evidence = [
            Evidence(
                file=cand.manifest,
                line=find_line(cand.data["text"], '"test"'),
                detail="scripts.test",
            )
        ]
    elif test_files:
        draft.tests_evidence = [Evidence(file=sorted(test_files)[0])]
        draft.test_command = (
            "npx vitest run"
            if "vitest" in cand.deps
            else "npx jest"
            if "jest" in cand.deps
            else None
        )


def _worker_system(cand: Candidate) -> str:
    for lib in ("bullmq", "bull", "bee-queue", "agenda", "graphile-worker"):
        if lib in cand.deps:
            return lib
    return "node"


def find_dep_name(draft: Draft) -> str:
    detail = draft.framework_evidence[0].detail or ""
    return detail.removeprefix("dependency ") if detail.startswith("dependency ") else ""


def _angular_output(ctx: Context, draft: Draft) -> str | None:
    text = ctx.read(draft.rel("angular.json"))
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    for project in (data.get("projects") or {}).values():
        try:
            opts = project["architect"]["build"]["options"]
        except (KeyError, TypeError):
            continue
        out = opts.get("outputPath") if isinstance(opts, dict) else None
        if isinstance(out, dict):
            out = out.get("base")
        if isinstance(out, str):
            builder = project["architect"]["build"].get("builder", "")
            return f"{out}/browser" if builder.endswith(":application") else out
    return None

"""Python: requirements*.txt, pyproject.toml (PEP 621, Poetry, uv), Pipfile, setup.py."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    ServiceFinding,
    clean_version,
    find_line,
    first_version,
    join,
    line_in,
)
from runner.analysis.frameworks import detect_framework
from runner.analysis.hints import Hint

MANIFESTS = ("pyproject.toml", "requirements.txt", "Pipfile", "setup.py", "setup.cfg", "manage.py")
_REQ_LINE = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(?:(===?|~=|>=|<=|!=|>|<)\s*([^\s;,#]+))?"
)
_PEP508 = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*\(?\s*(?:(===?|~=|>=|<=|!=|>|<)\s*([^\s;,)]+))?"
)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _add(
    deps: dict[str, Dep],
    name: str,
    op: str | None,
    version: str | None,
    file: str,
    line: int | None,
) -> None:
    key = norm(name)
    if key in deps:
        return
    cleaned = version if op in (None, "==", "===", "~=", ">=") else f"{op}{version}"
    deps[key] = Dep(key, clean_version(cleaned) if cleaned else None, file, line)


def parse_requirements(ctx: Context, rel: str, deps: dict[str, Dep], depth: int = 0) -> None:
    text = ctx.read(rel)
    if text is None:
        return
    base = rel.rsplit("/", 1)[0] if "/" in rel else "."
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ", "-c ")) and depth < 3:
            target = line.split(None, 1)[1].strip()
            parse_requirements(ctx, join(base, target), deps, depth + 1)
            continue
        if line.startswith("-"):
            continue
        m = _REQ_LINE.match(line)
        if m:
            _add(deps, m.group(1), m.group(3), m.group(4), rel, i)


def _toml(ctx: Context, rel: str) -> dict:
    text = ctx.read(rel)
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return {}


def discover(ctx: Context, directory: str) -> Candidate | None:
    names = set(ctx.names(directory))
    manifest = next((m for m in MANIFESTS if m in names), None)
    req_files = sorted(
        (n for n in names if n.startswith("requirements") and n.endswith(".txt")),
        key=lambda n: (n != "requirements.txt", "dev" in n or "test" in n, n),
    )
    if manifest is None and not req_files and _nested_requirements(ctx, directory) is None:
        return None
    if not req_files and (nested := _nested_requirements(ctx, directory)):
        req_files = [nested]
    manifest = manifest or req_files[0]
    cand = Candidate(
        directory, "python", "python", _dir_name(ctx, directory), join(directory, manifest)
    )
    deps = cand.deps
    pyproject = _toml(ctx, join(directory, "pyproject.toml")) if "pyproject.toml" in names else {}
    project = pyproject.get("project", {}) if isinstance(pyproject.get("project"), dict) else {}
    poetry = (
        pyproject.get("tool", {}).get("poetry", {})
        if isinstance(pyproject.get("tool"), dict)
        else {}
    )
    pp_rel = join(directory, "pyproject.toml")
    pp_text = ctx.read(pp_rel) or ""
    for spec in project.get("dependencies", []) or []:
        if isinstance(spec, str):
            m = _PEP508.match(spec)
            if m:
                _add(deps, m.group(1), m.group(3), m.group(4), pp_rel, find_line(pp_text, spec))
    for group in (project.get("optional-dependencies") or {}).values():
        for spec in group if isinstance(group, list) else []:
            if isinstance(spec, str) and (m := _PEP508.match(spec)):
                _add(deps, m.group(1), m.group(3), m.group(4), pp_rel, find_line(pp_text, spec))
    if isinstance(poetry, dict):
        for section in (
            poetry.get("dependencies"),
            *(
                g.get("dependencies")
                for g in (poetry.get("group") or {}).values()
                if isinstance(g, dict)
            ),
            poetry.get("dev-dependencies"),
        ):
            for name, spec in (section or {}).items() if isinstance(section, dict) else []:
                if name.lower() == "python":
                    continue
                version = spec.get("version") if isinstance(spec, dict) else spec
                _add(
                    deps,
                    name,
                    None,
                    version if isinstance(version, str) else None,
                    pp_rel,
                    find_line(pp_text, f"\n{name} "),
                )
    for req in req_files:
        parse_requirements(ctx, join(directory, req), deps)
    pipfile = _toml(ctx, join(directory, "Pipfile")) if "Pipfile" in names else {}
    for section in ("packages", "dev-packages"):
        for name, spec in (pipfile.get(section) or {}).items():
            version = spec.get("version") if isinstance(spec, dict) else spec
            _add(
                deps,
                name,
                None,
                version if isinstance(version, str) else None,
                join(directory, "Pipfile"),
                None,
            )
    if "setup.py" in names:
        text = ctx.read(join(directory, "setup.py")) or ""
        m = re.search(r"install_requires\s*=\s*\[([^\]]*)\]", text)
        if m:
            for spec in re.findall(r"""["']([^"']+)["']""", m.group(1)):
                if mm := _PEP508.match(spec):
                    _add(
                        deps,
                        mm.group(1),
                        mm.group(3),
                        mm.group(4),
                        join(directory, "setup.py"),
                        line_in(text, m.start()),
                    )
    _lock_versions(ctx, directory, names, deps)
    # package manager
    if "uv.lock" in names or "uv" in (pyproject.get("tool") or {}):
        cand.package_manager = "uv"
    elif "poetry.lock" in names or poetry:
        cand.package_manager = "poetry"
    elif "Pipfile" in names:
        cand.package_manager = "pipenv"
    elif "pdm.lock" in names:
        cand.package_manager = "pdm"
    else:
        cand.package_manager = "pip"
    cand.name = project.get("name") or poetry.get("name") or cand.name
    cand.data["scripts"] = dict(project.get("scripts") or poetry.get("scripts") or {})
    cand.data["req_files"] = req_files
    cand.data["pytest_config"] = "pytest" in (pyproject.get("tool") or {}) or bool(
        names & {"pytest.ini", "conftest.py", "tox.ini"}
    )
    _runtime(ctx, directory, names, cand, project, poetry, pipfile)
    return cand


def _nested_requirements(ctx: Context, directory: str) -> str | None:
    """``requirements/production.txt`` and friends (the cookiecutter layout)."""
    for name in ("production.txt", "prod.txt", "base.txt", "requirements.txt", "common.txt"):
        if ctx.exists(join(directory, f"requirements/{name}")):
            return f"requirements/{name}"
    return None


def _dir_name(ctx: Context, directory: str) -> str:
    return ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]


def _lock_versions(ctx: Context, directory: str, names: set[str], deps: dict[str, Dep]) -> None:
    for lock in ("poetry.lock", "uv.lock", "pdm.lock"):
        if lock in names:
            data = _toml(ctx, join(directory, lock))
            for pkg in data.get("package", []) or []:
                if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
                    key = norm(pkg["name"])
                    if key in deps and isinstance(pkg.get("version"), str):
                        deps[key].version = pkg["version"]
            return
    if "Pipfile.lock" in names:
        try:
            data = json.loads(ctx.read(join(directory, "Pipfile.lock")) or "{}")
        except ValueError:
            return
        for section in ("default", "develop"):
            for name, info in (data.get(section) or {}).items():
                key = norm(name)
                if key in deps and isinstance(info, dict) and isinstance(info.get("version"), str):
                    deps[key].version = clean_version(info["version"])


def _runtime(
    ctx: Any, directory: Any, names: Any, cand: Any, project: Any, poetry: Any, pipfile: Any
) -> None:
    for fname in (".python-version", "runtime.txt"):
        if fname in names:
            text = (ctx.read(join(directory, fname)) or "").strip().splitlines()
            if text:
                version = first_version(text[0])
                if version:
                    cand.runtime_version = version
                    cand.runtime_evidence = Evidence(file=join(directory, fname), line=1)
                    return
    spec = project.get("requires-python") or (poetry.get("dependencies") or {}).get("python")
    if isinstance(spec, str) and first_version(spec):
        cand.runtime_version = first_version(spec)
        cand.runtime_evidence = Evidence(
            file=join(directory, "pyproject.toml"), detail=f"requires-python {spec}"
        )
        return
    version = (pipfile.get("requires") or {}).get("python_version")
    if isinstance(version, str):
        cand.runtime_version = version
        cand.runtime_evidence = Evidence(file=join(directory, "Pipfile"))


def _module_of(draft: Draft, rel: str) -> str:
    prefix = "" if draft.cand.path == "." else draft.cand.path + "/"
    inner = rel[len(prefix) :] if rel.startswith(prefix) else rel
    inner = inner[:-3] if inner.endswith(".py") else inner
    if inner.endswith("/__init__"):
        inner = inner[: -len("/__init__")]
    return inner.replace("/", ".")


def _inner(draft: Draft, rel: str) -> str:
    prefix = "" if draft.cand.path == "." else draft.cand.path + "/"
    return rel[len(prefix) :] if rel.startswith(prefix) else rel


_ENTRY_PRIORITY = (
    "app.py",
    "main.py",
    "server.py",
    "wsgi.py",
    "asgi.py",
    "run.py",
    "application.py",
    "streamlit_app.py",
    "__main__.py",
)


def _pick_entry(draft: Draft, hints: list[Hint]) -> Hint | None:
    if not hints:
        return None

    def key(h: Hint) -> tuple[int, int, str, int]:
        name = h.file.rsplit("/", 1)[-1]
        rank = _ENTRY_PRIORITY.index(name) if name in _ENTRY_PRIORITY else len(_ENTRY_PRIORITY)
        return (h.file.count("/"), rank, h.file, h.line)

    return min(hints, key=key)


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    spec = detect_framework(draft)
    if (
        spec
        and spec.id == "aiohttp"
        and not any(h.value == "Application" for h in draft.hints_of("app_object"))
    ):
        # aiohttp is also an HTTP client: only a server when the code builds a web.Application.
        draft.framework = None
        draft.framework_evidence = []
        spec = None
    pm = cand.package_manager
    req = cand.data["req_files"]
    packaged = any(ctx.exists(draft.rel(n)) for n in ("pyproject.toml", "setup.py", "setup.cfg"))
    draft.install_command = {
        "uv": "uv sync --frozen --no-dev"
        if ctx.exists(draft.rel("uv.lock"))
        else "uv sync --no-dev",
        "poetry": "poetry install --only main --no-root",
        "pipenv": "pipenv install --deploy",
        "pdm": "pdm install --prod",
    }.get(
        pm or "",
        f"pip install -r {req[0]}" if req else ("pip install ." if packaged else None),
    )
    run = {"uv": "uv run ", "poetry": "poetry run ", "pipenv": "pipenv run "}.get(pm or "", "")
    framework = draft.framework
    objs = draft.hints_of("app_object")
    default_port = spec.default_port if spec else None
    port_ref = "{port}"
    if framework == "django":
        wsgi = sorted(f for f in draft.owned if f.endswith("/wsgi.py") or f == draft.rel("wsgi.py"))
        manage = draft.rel("manage.py")
        if wsgi:
            module = _module_of(draft, wsgi[0])
            draft.start_command = f"{run}gunicorn {module}:application --bind 0.0.0.0:{port_ref}"
        elif ctx.exists(manage):
            draft.start_command = f"{run}python manage.py runserver 0.0.0.0:{port_ref}"
        if ctx.exists(manage):
            draft.build_command = f"{run}python manage.py collectstatic --noinput"
    elif framework in ("flask", "fastapi", "starlette", "litestar", "sanic"):
        cls = {
            "flask": "Flask",
            "fastapi": "FastAPI",
            "starlette": "Starlette",
            "litestar": "Litestar",
            "sanic": "Sanic",
        }[framework]
        entry = _pick_entry(draft, [h for h in objs if h.value == cls])
        target = None
        if entry is not None:
            target = f"{_module_of(draft, entry.file)}:{entry.extra}"
        else:
            factory = _pick_entry(draft, draft.hints_of("app_factory"))
            if factory is not None:
                target = f"{_module_of(draft, factory.file)}:{factory.value}()"
        if target:
            if framework == "flask":
                draft.start_command = f"{run}gunicorn {target} --bind 0.0.0.0:{port_ref}"
            elif framework == "sanic":
                draft.start_command = f"{run}sanic {target} --host 0.0.0.0 --port {port_ref}"
            else:
                draft.start_command = f"{run}uvicorn {target} --host 0.0.0.0 --port {port_ref}"
    elif framework == "streamlit":
        entry = _pick_entry(draft, [h for h in draft.hints_of("import") if h.value == "streamlit"])
        if entry is not None:
            draft.start_command = (
                f"{run}streamlit run {_inner(draft, entry.file)} "
                f"--server.address 0.0.0.0 --server.port {port_ref}"
            )
    if draft.start_command is None:
        mains = draft.hints_of("main")
        entry = _pick_entry(draft, mains)
        if framework and entry is None:
            entry = _pick_entry(
                draft, [h for h in draft.hints_of("import") if h.value == framework]
            )
        if entry is not None:
            draft.start_command = f"{run}python {_inner(draft, entry.file)}"
        elif cand.data["scripts"]:
            name = sorted(cand.data["scripts"])[0]
            draft.start_command = f"{run}{name}"
            draft.kind = draft.kind or "cli"
    if spec:
        draft.kind = spec.kind
    elif "celery" in cand.deps and not draft.hints_of("port"):
        # no web framework, a Celery app: the app is its worker
        draft.kind = "worker"
        draft.start_command = f"{run}celery -A {celery_target(draft)[0]} worker --loglevel=info"
    # services from settings: Django DATABASES, SQLAlchemy URLs
    for rel in draft.owned:
        if (
            rel.endswith("settings.py")
            or rel.endswith("/settings/base.py")
            or rel.endswith("config.py")
        ):
            text = ctx.read(rel) or ""
            for m in re.finditer(
                r"django\.db\.backends\.(postgresql|postgresql_psycopg2|mysql|sqlite3)", text
            ):
                kind = {"mysql": "mysql", "sqlite3": "sqlite"}.get(m.group(1), "postgres")
                draft.services.append(
                    ServiceFinding(
                        kind, Evidence(file=rel, line=line_in(text, m.start()), detail="DATABASES")
                    )
                )
            for m in re.finditer(r"""["']sqlite(?:\+\w+)?:///""", text):
                draft.services.append(
                    ServiceFinding(
                        "sqlite",
                        Evidence(file=rel, line=line_in(text, m.start()), detail="database URL"),
                    )
                )
    if cand.data.get("scripts") and not spec and draft.kind is None:
        draft.kind = "cli"
    # gunicorn.conf.py / Procfile-like flags in code were scanned as hints; nothing else here.
    _tests(ctx, draft, run)
    if default_port is not None:
        draft.add_default_port(
            default_port,
            f"{framework} default",
            file=draft.framework_evidence[0].file if draft.framework_evidence else None,
        )


def _tests(ctx: Context, draft: Draft, run: str) -> None:
    test_files = [
        f
        for f in draft.owned
        if re.search(r"(^|/)(test_[^/]*|[^/]*_test|tests)\.py$", f)
        or ("/tests/" in f"/{f}" and f.endswith(".py"))
    ]
    if not test_files:
        return
    draft.tests_evidence = [Evidence(file=sorted(test_files)[0])]
    if "pytest" in draft.cand.deps or draft.cand.data.get("pytest_config"):
        draft.test_command = f"{run}pytest"
    elif draft.framework == "django" and ctx.exists(draft.rel("manage.py")):
        draft.test_command = f"{run}python manage.py test"
    else:
        draft.test_command = f"{run}python -m unittest discover"


def celery_target(draft: Draft) -> tuple[str, Evidence]:
    """The ``-A`` argument of ``celery worker`` and where it was found."""
    obj = next(
        (
            h
            for h in sorted(draft.hints_of("app_object"), key=lambda h: (h.file, h.line))
            if h.value == "Celery"
        ),
        None,
    )
    if obj is None:
        return "app", draft.cand.deps["celery"].evidence()
    module = _module_of(draft, obj.file)
    target = module if obj.extra == "app" else f"{module}.{obj.extra}"
    return target, Evidence(file=obj.file, line=obj.line, detail="Celery app")

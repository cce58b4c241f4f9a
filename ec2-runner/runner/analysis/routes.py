"""Routes an app really serves, read from its framework's routing, to pick a health path.

A health-looking string is only a candidate (the content scan finds it anywhere: a logging
setting, a commented line); it counts when it sits in a route definition, with the prefixes
of the router that holds it (``APIRouter(prefix=)``, ``include_router(prefix=)``, blueprints'
``url_prefix``, Express routers mounted with ``app.use``, gin/mux groups, Django ``include``,
Laravel's ``routes/api.php``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chalicelib.models.profile import Evidence
from runner.analysis.context import Context, Draft

_MAX_MOUNT_FILES = 300  # files read to find where routers are mounted

_PY_ROUTE = re.compile(
    r"""@\s*(\w+)\.(?:get|route|api_route|head)\(\s*["']([^"']*)["']"""
    r"""|\b(?:re_)?path\(\s*r?["']\^?([^"'$]*)["']\s*,\s*(?!include\()"""
)
_PY_ROUTER = re.compile(r"""^(\w+)\s*=\s*(?:[\w.]*\.)?(?:APIRouter|Blueprint)\(([^\n]*)""", re.M)
_PY_PREFIX = re.compile(r"""(?:url_)?prefix\s*=\s*["']([^"']*)["']""")
_PY_MOUNT = re.compile(r"""(?:include_router|register_blueprint)\(\s*([\w.]+)([^\n)]*)""")
_DJANGO_INCLUDE = re.compile(
    r"""path\(\s*r?["']\^?([^"'$]*)["']\s*,\s*include\(\s*["']([\w.]+)["']"""
)
_JS_ROUTE = re.compile(r"""\b(\w+)\.(?:get|all|head)\(\s*["'`]([^"'`]*)["'`]""")
_JS_ROUTER = re.compile(r"""\b(\w+)\s*=\s*(?:express\.)?Router\(""")
_JS_USE = re.compile(
    r"""\.use\(\s*["'`]([^"'`]*)["'`]\s*,\s*(?:require\(\s*["']([^"']+)["']\s*\)|(\w+))"""
)
_JS_IMPORT = re.compile(
    r"""(?:import\s+(\w+)\s+from\s*|(?:const|let|var)\s+(\w+)\s*=\s*require\(\s*)["']([^"']+)["']"""
)
_GO_ROUTE = re.compile(
    r"""\b(\w+)\.(?:GET|Get|HEAD|Head|Any|HandleFunc|Handle|Path)\(\s*"(?:GET\s+)?([^"]*)\""""
)
_GO_GROUP = re.compile(
    r"""\b(\w+)\s*:?=\s*\w+\.(?:Group\(\s*"([^"]*)"|PathPrefix\(\s*"([^"]*)"\s*\)\.Subrouter\(\))"""
)
_RB_ROUTE = re.compile(r"""^\s*get\s+["']([^"']*)["']""")
_PHP_ROUTE = re.compile(r"""Route::(?:get|any|match)\(\s*(?:\[[^\]]*\]\s*,\s*)?["']([^"']*)["']""")
_LARAVEL_HEALTH = re.compile(r"""\bhealth\s*:\s*["']([^"']+)["']""")
_COMMENT = ("#", "//", "/*", "*", "--")


def _join(*parts: str) -> str:
    path = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return "/" + path


def _stem(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    base = name.rsplit(".", 1)[0]
    if base == "index" and "/" in rel:  # ./routes -> routes/index.js
        return rel.rsplit("/", 2)[-2]
    return base


def _lines(text: str) -> Iterator[Any]:  # (line number, text)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith(_COMMENT):
            yield number, line


def app_routes(ctx: Context, draft: Draft) -> list[tuple[str, Evidence]]:
    """Every (path, evidence) route of the app that the health scan pointed at."""
    eco = draft.cand.ecosystem
    files = sorted(
        {h.file for h in draft.hints_of("health")}
        | {
            r
            for r in draft.owned
            if (eco == "python" and r.endswith("urls.py")) or r.endswith("config/routes.rb")
        }
    )
    out: list[tuple[str, Evidence]] = []
    if eco == "php":
        boot = draft.rel("bootstrap/app.php")
        text = ctx.read(boot) if ctx.exists(boot) else None
        m = _LARAVEL_HEALTH.search(text or "")
        if m and text is not None:
            line = text.count("\n", 0, m.start()) + 1
            out.append((_join(m.group(1)), Evidence(file=boot, line=line, detail="health")))
    if not files:
        return out
    mounts = _mount_texts(ctx, draft) if eco in ("python", "node") else []
    for rel in files:
        text = ctx.read(rel) or ""

        def ev(n: int, rel: str = rel) -> Evidence:
            return Evidence(file=rel, line=n, detail="route", kind="config")

        if eco == "python":
            prefixes = {m.group(1): _prefix(m.group(2)) for m in _PY_ROUTER.finditer(text)}
            for n, line in _lines(text):
                m = _PY_ROUTE.search(line)
                if not m:
                    continue
                if m.group(3) is not None:  # Django path()
                    for mount in _django_mounts(mounts, rel):
                        out.append((_join(mount, m.group(3)), ev(n)))
                    continue
                var, path = m.group(1), m.group(2)
                base = prefixes.get(var, "")
                outer = _py_mounts(mounts, rel, var) if var in prefixes else [""]
                out += [(_join(o, base, path), ev(n)) for o in outer]
        elif eco == "node":
            routers = {m.group(1) for m in _JS_ROUTER.finditer(text)}
            for n, line in _lines(text):
                for m in _JS_ROUTE.finditer(line):
                    var, path = m.group(1), m.group(2)
                    if not path.startswith("/"):
                        continue
                    outer = _js_mounts(mounts, rel) if var in routers else [""]
                    out += [(_join(o, path), ev(n)) for o in outer]
        elif eco == "go":
            groups = {m.group(1): m.group(2) or m.group(3) or "" for m in _GO_GROUP.finditer(text)}
            for n, line in _lines(text):
                for m in _GO_ROUTE.finditer(line):
                    out.append((_join(groups.get(m.group(1), ""), m.group(2)), ev(n)))
        elif eco == "ruby" and rel.endswith("routes.rb"):
            for n, line in _lines(text):
                m = _RB_ROUTE.search(line)
                if m:
                    out.append((_join(m.group(1)), ev(n)))
        elif eco == "php" and "/routes/" in "/" + rel:
            prefix = "/api" if rel.endswith("routes/api.php") else ""
            for n, line in _lines(text):
                m = _PHP_ROUTE.search(line)
                if m:
                    out.append((_join(prefix, m.group(1)), ev(n)))
        else:  # other stacks: a quoted health path on a non-comment line
            for n, _line in _lines(text):
                for h in draft.hints_of("health"):
                    if h.file == rel and h.line == n:
                        out.append((h.value, ev(n)))
    return out


def _prefix(args: str) -> str:
    m = _PY_PREFIX.search(args)
    return m.group(1) if m else ""


def _mount_texts(ctx: Context, draft: Draft) -> list[tuple[str, str]]:
    ext = (".py",) if draft.cand.ecosystem == "python" else (".js", ".ts", ".mjs", ".cjs")
    out = []
    for rel in sorted(draft.owned):
        if rel.endswith(ext) and "node_modules/" not in rel:
            text = ctx.read(rel) or ""
            if ("include" in text or "register_blueprint" in text or ".use(" in text) and text:
                out.append((rel, text))
            if len(out) >= _MAX_MOUNT_FILES:
                break
    return out


def _py_mounts(mounts: list[tuple[str, str]], rel: str, var: str) -> list[str]:
    """Prefixes under which the router ``var`` of file ``rel`` is included (or [""])."""
    module = _stem(rel)
    found = []
    for mount_rel, text in mounts:
        for m in _PY_MOUNT.finditer(text):
            target = m.group(1).split(".")
            if target[-1] == var and (
                (len(target) == 1 and (mount_rel == rel or module in text)) or module in target
            ):
                found.append(_prefix(m.group(2)))
            elif target[-1] == module:
                found.append(_prefix(m.group(2)))
    return found or [""]


def _django_mounts(mounts: list[tuple[str, str]], rel: str) -> list[str]:
    if rel.rsplit("/", 1)[-1] != "urls.py":
        return []
    module = rel[:-3].replace("/", ".")
    found = [
        m.group(1)
        for _, text in mounts
        for m in _DJANGO_INCLUDE.finditer(text)
        if module.endswith(m.group(2))
    ]
    return found or [""]


def _js_mounts(mounts: list[tuple[str, str]], rel: str) -> list[str]:
    """Prefixes under which the router exported by ``rel`` is mounted with ``.use``."""
    module = _stem(rel)
    found = []
    for _, text in mounts:
        imported = {
            (m.group(1) or m.group(2)): m.group(3).rstrip("/").rsplit("/", 1)[-1].split(".")[0]
            for m in _JS_IMPORT.finditer(text)
        }
        for m in _JS_USE.finditer(text):
            source = m.group(2) or imported.get(m.group(3) or "", "")
            if source.rstrip("/").rsplit("/", 1)[-1].split(".")[0] == module:
                found.append(m.group(1))
    return found or [""]

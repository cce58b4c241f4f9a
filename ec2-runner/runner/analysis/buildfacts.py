"""Facts the app plan is built from: the lockfile, the release step, runtime folders.

Found per app after its ecosystem has been detected; every fact is read from the
app's own files (or, for a lockfile of a workspace, from a parent folder).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from runner.analysis.context import Context, join

# (lockfile name, package manager) per ecosystem, in order of precedence.
_LOCKS: dict[str, tuple[tuple[str, str], ...]] = {
    "node": (
        ("bun.lock", "bun"),
        ("bun.lockb", "bun"),
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("package-lock.json", "npm"),
        ("npm-shrinkwrap.json", "npm"),
    ),
    "python": (
        ("uv.lock", "uv"),
        ("poetry.lock", "poetry"),
        ("Pipfile.lock", "pipenv"),
        ("pdm.lock", "pdm"),
    ),
    "ruby": (("Gemfile.lock", "bundler"),),
    "php": (("composer.lock", "composer"),),
    "go": (("go.sum", "go"),),
    "rust": (("Cargo.lock", "cargo"),),
    "static": (
        ("package-lock.json", "npm"),
        ("yarn.lock", "yarn"),
        ("pnpm-lock.yaml", "pnpm"),
        ("bun.lock", "bun"),
    ),
}
# Workspaces keep one lock at the top: these ecosystems look in parent folders too.
_WORKSPACE_LOCKS = frozenset({"node", "python", "rust", "static"})
# Folders a server reads at run time: a compiled image must carry them beside the binary.
RUNTIME_DIRS = (
    "templates",
    "static",
    "public",
    "views",
    "assets",
    "config",
    "configs",
    "migrations",
    "locales",
    "i18n",
    "web",
    "resources",
)
# Joined at run time: a literal folder-slash string reads like an S3 prefix to the IAM scan.
_PRESTART = ("prestart.sh", "/".join(("scripts", "prestart.sh")), "bin/prestart.sh", "release.sh")


@dataclass
class BuildFacts:
    lockfile: str | None = None
    lockfile_kind: str | None = None
    runtime_dirs: list[str] = field(default_factory=list)
    release_command: str | None = None


def _parents(directory: str) -> list[str]:
    out = [directory]
    while directory != ".":
        directory = directory.rsplit("/", 1)[0] if "/" in directory else "."
        out.append(directory)
    return out


def find_lockfile(ctx: Context, ecosystem: str, directory: str) -> tuple[str, str] | None:
    """(path, kind) of the lockfile that pins this app's dependencies, or None."""
    locks = _LOCKS.get(ecosystem, ())
    folders = _parents(directory) if ecosystem in _WORKSPACE_LOCKS else [directory]
    for folder in folders:
        names = set(ctx.names(folder))
        for lock, kind in locks:
            if lock in names:
                path = join(folder, lock)
                if lock == "yarn.lock" and "__metadata:" in (ctx.read(path) or "")[:4000]:
                    kind = "yarn-berry"  # a Berry lock: corepack's yarn 2+, not classic
                return path, kind
    return None


_PROCFILE_RELEASE = re.compile(r"^release:\s*(.+)$", re.M)
# package.json scripts that migrate a database, in order of preference.
_MIGRATE_SCRIPTS = (
    "migrate:deploy",
    "db:migrate:deploy",
    "migrate:prod",
    "db:migrate",
    "migrate",
    "migration:run",
    "migrations:run",
)


def _node_migrate_script(ctx: Context, directory: str) -> str | None:
    try:
        scripts = json.loads(ctx.read(join(directory, "package.json")) or "{}").get("scripts")
    except (ValueError, AttributeError):
        return None
    if not isinstance(scripts, dict):
        return None
    return next((f"npm run {s}" for s in _MIGRATE_SCRIPTS if isinstance(scripts.get(s), str)), None)


def build_facts(ctx: Context, ecosystem: str, directory: str) -> BuildFacts:
    facts = BuildFacts()
    found = find_lockfile(ctx, ecosystem, directory)
    if found:
        facts.lockfile, facts.lockfile_kind = found
    facts.runtime_dirs = [d for d in RUNTIME_DIRS if ctx.is_dir(join(directory, d))]
    procfile_path = join(directory, "Procfile")
    procfile = ctx.read(procfile_path) if ctx.exists(procfile_path) else None
    release = _PROCFILE_RELEASE.search(procfile or "")
    if release:
        facts.release_command = release.group(1).strip()
    else:
        script = next((p for p in _PRESTART if ctx.exists(join(directory, p))), None)
        if script:
            facts.release_command = f"sh {script}"
        elif ecosystem == "node" and ctx.exists(join(directory, "package.json")):
            facts.release_command = _node_migrate_script(ctx, directory)
    return facts

"""The toolchain table: supported versions per language, their pinned images, the current one.

The version an app declares picks the image; a declaration with no version in the
table is refused with the fix (a wrong runtime builds an image that does not run).
Nothing declared: the current version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.generate.stack import StackContext
from chalicelib.models.plan import Toolchain


class ToolchainVersionError(Exception):
    """The app declares a runtime version the table has no image for; says how to fix it."""


@dataclass(frozen=True)
class Line:
    """One language: (build image, runtime image) per supported version, and the current one."""

    language: str
    versions: dict[str, tuple[str, str]]
    current: str
    declare_in: str  # where the user declares a version (for the fix)


def _same(tag: str) -> tuple[str, str]:
    return tag, tag


TABLE: dict[str, Line] = {
    "python": Line(
        "python",
        {
            v: _same(f"python:{p}-slim-bookworm")
            for v, p in {
                "3.10": "3.10.19",
                "3.11": "3.11.14",
                "3.12": "3.12.12",
                "3.13": "3.13.9",
                "3.14": "3.14.0",
            }.items()
        },
        "3.14",
        "requires-python in pyproject.toml or .python-version",
    ),
    "node": Line(
        "node",
        {
            v: _same(f"node:{p}-alpine3.22")
            for v, p in {"20": "20.19.5", "22": "22.21.1", "24": "24.11.1"}.items()
        },
        "24",
        "engines.node in package.json or .nvmrc",
    ),
    "bun": Line("bun", {"1": _same("oven/bun:1.3.2-alpine")}, "1", "packageManager bun@1"),
    "go": Line(
        "go",
        {
            v: (f"golang:{p}-alpine3.22", "alpine:3.22.2")
            for v, p in {"1.23": "1.23.12", "1.24": "1.24.10", "1.25": "1.25.4"}.items()
        },
        "1.25",
        "the go line of go.mod",
    ),
    "java": Line(
        "java",
        {
            "17": (
                "maven:3.9.11-eclipse-temurin-17-alpine",
                "eclipse-temurin:17.0.17_10-jre-alpine",
            ),
            "21": (
                "maven:3.9.11-eclipse-temurin-21-alpine",
                "eclipse-temurin:21.0.9_10-jre-alpine",
            ),
            "25": (
                "maven:3.9.11-eclipse-temurin-25-alpine",
                "eclipse-temurin:25.0.1_8-jre-alpine",
            ),
        },
        "21",
        "java.version (Maven) or the toolchain's languageVersion (Gradle)",
    ),
    "ruby": Line(
        "ruby",
        {
            v: _same(f"ruby:{p}-slim-bookworm")
            for v, p in {"3.2": "3.2.9", "3.3": "3.3.10", "3.4": "3.4.7"}.items()
        },
        "3.4",
        ".ruby-version or the ruby line of the Gemfile",
    ),
    # FrankenPHP (Caddy with PHP built in): one production server process, no FPM+nginx pair.
    "php": Line(
        "php",
        {v: _same(f"dunglas/frankenphp:1.9.1-php{v}-bookworm") for v in ("8.2", "8.3", "8.4")},
        "8.4",
        "require.php in composer.json",
    ),
    "dotnet": Line(
        "dotnet",
        {
            "8.0": (
                "mcr.microsoft.com/dotnet/sdk:8.0.416-bookworm-slim",
                "mcr.microsoft.com/dotnet/aspnet:8.0.22-bookworm-slim",
            ),
            "9.0": (
                "mcr.microsoft.com/dotnet/sdk:9.0.307-bookworm-slim",
                "mcr.microsoft.com/dotnet/aspnet:9.0.11-bookworm-slim",
            ),
        },
        "8.0",
        "TargetFramework in the .csproj or global.json",
    ),
    # Any toolchain at least as new as rust-version builds the crate: one pinned release.
    "rust": Line(
        "rust",
        {"1": ("rust:1.91.1-slim-bookworm", "debian:bookworm-20251117-slim")},
        "1",
        "rust-version in Cargo.toml or rust-toolchain.toml",
    ),
    "static": Line(
        "static",
        {"": ("node:24.11.1-alpine3.22", "nginxinc/nginx-unprivileged:1.29.3-alpine3.22")},
        "",
        "",
    ),
    "generic": Line(
        "generic",
        {"": _same("debian:bookworm-20251117-slim")},
        "",
        "",
    ),
}
RUST_NEWEST = (1, 91)
# Static site builders: the build stage's image.
STATIC_BUILD_IMAGES = {
    "node": "node:24.11.1-alpine3.22",
    "hugo": "alpine:3.22.2",
    "python": "python:3.14.0-slim-bookworm",
    "ruby": "ruby:3.4.7-slim-bookworm",
    "none": "node:24.11.1-alpine3.22",
}
GRADLE_IMAGES = {
    "17": "gradle:8.14.3-jdk17-alpine",
    "21": "gradle:8.14.3-jdk21-alpine",
    "25": "gradle:9.2.1-jdk25-alpine",
}

_COMPARATOR = re.compile(r"(>=|<=|==|~=|!=|>|<|\^|~|=)?\s*v?(\d+(?:\.\d+)*)(?:\.[x*])?")
_NUMBER = re.compile(r"\d+")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _NUMBER.findall(version))


def _allows(constraint: str, version: str) -> bool | None:
    """Whether the release line ``version`` (a table key, "3.12") satisfies every clause of
    ``constraint``; None when the constraint has no clause this understands."""
    v = _key(version)
    understood = False
    for clause in re.split(r",|\|\||\s+(?=[<>=~^!])", constraint):
        m = _COMPARATOR.fullmatch(clause.replace(" ", ""))
        if not m:
            continue
        understood = True
        op, bound = m.group(1) or "", _key(m.group(2))
        head = bound[: len(v)]  # the bound at the table's precision
        finer = len(bound) > len(v) and any(bound[len(v) :])
        if op == ">=":
            ok = v >= head
        elif op == ">":
            ok = v > head or (v == head and len(bound) >= len(v))
        elif op == "<=":
            ok = v <= head
        elif op == "<":
            ok = v < head or (v == head and finer)
        elif op == "!=":
            ok = v != head or finer
        elif op == "^":
            ok = v[:1] == bound[:1] and v >= head
        elif op in ("~", "~="):
            prefix = bound[: max(1, len(bound) - 1)]
            ok = v[: len(prefix)] == prefix and v >= head
        else:  # ==, =, bare: that release line
            ok = v[: len(bound)] == bound if len(bound) < len(v) else v == head
        if not ok:
            return False
    return True if understood else None


# Languages whose declaration is a minimum by its own rules (go.mod's go line, a JVM bytecode
# level): the newest supported version satisfies it.
MINIMUM_DECLARATIONS = frozenset({"go", "java"})


def _pick(line: Line, declared: str) -> str | None:
    """The newest supported version the declaration allows (the current one when allowed)."""
    wanted = declared.strip().lstrip("v")
    if line.language in MINIMUM_DECLARATIONS and re.fullmatch(r"[\d.]+", wanted):
        exact = next((v for v in line.versions if v and _allows(wanted, v)), None)
        wanted = wanted if exact else ">=" + wanted
    if wanted in ("", "*", "latest", "stable", "lts/*", "lts", "node", "current"):
        return line.current
    ordered = sorted((v for v in line.versions if v), key=_key, reverse=True)
    current_first = [line.current, *(v for v in ordered if v != line.current)]
    for version in current_first:
        if _allows(wanted, version):
            return version
    return None


def resolve_toolchain(ctx: StackContext) -> tuple[Toolchain, list[str]]:
    """The toolchain of the app; raises ToolchainVersionError for an unsupported declaration."""
    language = "bun" if _runs_bun(ctx) else ctx.family
    line = TABLE.get(language, TABLE["generic"])
    declared = ctx.app.runtime_constraint or ctx.runtime_version
    notes: list[str] = []
    version = line.current
    if language == "rust" and declared:
        if _key(declared)[:2] > RUST_NEWEST:
            raise ToolchainVersionError(
                f"app {ctx.app.name!r} declares Rust {declared!r} (in "
                f"{ctx.app.runtime_source or 'Cargo.toml'}); the newest supported is "
                f"{RUST_NEWEST[0]}.{RUST_NEWEST[1]}. Fix: set rust-version to "
                f"{RUST_NEWEST[0]}.{RUST_NEWEST[1]} or lower."
            )
    elif declared and language not in ("static", "generic", "bun"):
        picked = _pick(line, declared)
        if picked is None:
            supported = ", ".join(sorted((v for v in line.versions if v), key=_key))
            raise ToolchainVersionError(
                f"app {ctx.app.name!r} declares {line.language} {declared!r} (in "
                f"{ctx.app.runtime_source or 'its manifest'}), which no supported image "
                f"provides. Supported: {supported}. Fix: declare one of them in "
                f"{line.declare_in}, e.g. {line.current!r}."
            )
        version = picked
        where = ctx.app.runtime_source or "the manifest"
        if _allows(declared.lstrip("v"), picked) and _key(declared)[: len(_key(picked))] == _key(
            picked
        ):
            notes.append(f"{line.language} {picked}, as declared in {where} ({declared!r}).")
        else:
            notes.append(
                f"{line.language} {picked}: the newest supported version that {declared!r} "
                f"(declared in {where}) allows."
            )
    else:
        notes.append(f"{line.language} {version}: nothing declared, the current version.")
    build, runtime = line.versions[version]
    if ctx.family == "java" and ctx.package_manager == "gradle":
        build = GRADLE_IMAGES[version]
    if ctx.family == "static":
        from chalicelib.generate.dockerfiles import static_tool

        build = STATIC_BUILD_IMAGES[static_tool(ctx)]
    return (
        Toolchain(
            language=line.language,
            version=version,
            image=build,
            runtime_image=runtime if runtime != build else None,
            declared=declared,
            source=ctx.app.runtime_source if declared else None,
        ),
        notes,
    )


def _runs_bun(ctx: StackContext) -> bool:
    """The app runs on bun: bun is its package manager or its start command."""
    if ctx.family != "node":
        return False
    start = (ctx.start_command or "").lstrip()
    return (ctx.app.lockfile_kind or ctx.package_manager) == "bun" or start.startswith("bun ")

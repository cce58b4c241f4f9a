"""Rust: Cargo.toml / Cargo.lock with Axum, Actix Web, Rocket, Warp."""

from __future__ import annotations

import re
import tomllib

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    PortFinding,
    ServiceFinding,
    clean_version,
    find_line,
    join,
)
from runner.analysis.frameworks import detect_framework


def discover(ctx: Context, directory: str) -> Candidate | None:
    rel = join(directory, "Cargo.toml")
    text = ctx.read(rel)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        data = {}
    package: dict = data["package"] if isinstance(data.get("package"), dict) else {}
    name = (
        str(package["name"])
        if isinstance(package.get("name"), str)
        else (ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1])
    )
    cand = Candidate(directory, "rust", "rust", name, rel, package_manager="cargo")
    cand.workspace_root = "workspace" in data and not package
    for section in ("dependencies", "dev-dependencies"):
        deps = data.get(section)
        for dep, spec in deps.items() if isinstance(deps, dict) else []:
            version = (
                spec
                if isinstance(spec, str)
                else spec.get("version")
                if isinstance(spec, dict)
                else None
            )
            features = spec.get("features", []) if isinstance(spec, dict) else []
            d = Dep(
                dep,
                clean_version(version) if isinstance(version, str) else None,
                rel,
                find_line(text, f"\n{dep}"),
            )
            cand.deps.setdefault(dep, d)
            if dep in ("sqlx", "diesel", "sea-orm") and isinstance(features, list):
                for feat in features:
                    for needle, svc in (
                        ("postgres", "postgres"),
                        ("mysql", "mysql"),
                        ("sqlite", "sqlite"),
                    ):
                        if isinstance(feat, str) and needle in feat:
                            cand.data.setdefault("feature_services", []).append((svc, d))
    lock = ctx.read(join(directory, "Cargo.lock")) or ""
    for m in re.finditer(r'^name = "([\w\-]+)"\nversion = "([^"]+)"', lock, re.M):
        if m.group(1) in cand.deps:
            cand.deps[m.group(1)].version = m.group(2)
    rv = package.get("rust-version")
    if isinstance(rv, str):
        cand.runtime_version, cand.runtime_evidence = (
            rv,
            Evidence(file=rel, line=find_line(text, "rust-version")),
        )
    else:
        tc = ctx.read(join(directory, "rust-toolchain.toml")) or ctx.read(
            join(directory, "rust-toolchain")
        )
        found = re.search(r"(\d+\.\d+(?:\.\d+)?)", tc or "")
        if found:
            cand.runtime_version = found.group(1)
            cand.runtime_evidence = Evidence(file=join(directory, "rust-toolchain.toml"))
    return cand


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    spec = detect_framework(draft)
    draft.build_command = "cargo build --release"
    draft.start_command = f"./target/release/{cand.name}"
    draft.kind = "web" if spec else "cli"
    for svc, dep in cand.data.get("feature_services", []):
        draft.services.append(ServiceFinding(svc, dep.evidence()))
    if spec and spec.id == "rocket":
        rocket = ctx.read(draft.rel("Rocket.toml")) or ""
        m = re.search(r"^\s*port\s*=\s*(\d+)", rocket, re.M)
        if m:
            draft.ports.append(
                PortFinding(
                    int(m.group(1)),
                    "config",
                    Evidence(
                        file=draft.rel("Rocket.toml"), line=find_line(rocket, m.group(0).strip())
                    ),
                )
            )
    if spec and spec.default_port:
        draft.add_default_port(spec.default_port, f"{spec.id} default")
    tests = [f for f in draft.owned if f.endswith(".rs") and ("/tests/" in f"/{f}")]
    unit = [h for h in draft.hints_of("unit_tests")]
    if tests or unit:
        first = sorted(tests)[0] if tests else unit[0].file
        draft.tests_evidence = [Evidence(file=first, line=None if tests else unit[0].line)]
        draft.test_command = "cargo test"

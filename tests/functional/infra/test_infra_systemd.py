"""The runner's systemd unit: required settings (parser test, always) and
`systemd-analyze verify` (when the machine has systemd-analyze)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner.settings import RunnerSettings
from tests.unit.infra.infra_support import UNIT_PATH, parse_unit


def _unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT_PATH.read_text())


def _one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key)
    assert values and len(values) == 1, f"{key} must be set exactly once, got {values}"
    return values[0]


def _seconds(value: str) -> int:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0
    for number, unit in re.findall(r"(\d+)\s*([a-z]*)", value):
        total += int(number) * units[unit]
    return total


def test_unit_runs_the_runner_from_the_release_with_its_environment() -> None:
    service = _unit()["Service"]
    assert _one(service, "ExecStart") == "/opt/autostack/venv/bin/python -m runner run"
    assert _one(service, "WorkingDirectory") == "/opt/autostack/app/ec2-runner"
    assert _one(service, "EnvironmentFile") == "/etc/autostack/runner.env"
    # chalicelib (the shared contracts) sits at the release's root, beside ec2-runner/.
    assert "PYTHONPATH=/opt/autostack/app" in service["Environment"]
    assert _one(service, "User") == "autostack"
    assert _one(service, "Restart") == "on-failure"
    assert _one(_unit()["Unit"], "StartLimitIntervalSec") == "0"  # keeps trying, unattended
    assert _one(_unit()["Install"], "WantedBy") == "multi-user.target"


def test_unit_stops_warm_and_keeps_runner_db_across_restarts() -> None:
    service = _unit()["Service"]
    assert _one(service, "KillSignal") == "SIGTERM"
    assert _one(service, "KillMode") == "mixed"  # SIGTERM to the runner, not to Terraform
    assert _seconds(_one(service, "TimeoutStopSec")) >= 5 * 60
    assert _one(service, "StateDirectory") == "autostack"
    defaults = RunnerSettings(stage="prod", table="t", bucket="b", queue_url="q", dlq_url="d")
    # runner.db and workspaces default to the StateDirectory, which restarts keep.
    assert defaults.runner_db.parent == Path("/var/lib/autostack")
    assert defaults.work_dir.is_relative_to("/var/lib/autostack")


def test_unit_is_hardened() -> None:
    service = _unit()["Service"]
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "LockPersonality": "yes",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert _one(service, key) == value, key
    assert _one(service, "SystemCallFilter") == "@system-service"


def test_the_parser_rejects_a_line_outside_a_section() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_unit("ExecStart=/bin/true\n[Service]\n")


def _verify(unit_text: str, root: Path, name: str) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify inside a scratch root that holds the unit, a stand-in for the
    venv's python (verify checks that ExecStart is executable) and systemd's own units."""
    (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/system" / name).write_text(unit_text)
    python = root / "opt/autostack/venv/bin/python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    system_units = next(
        p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()
    )
    (root / "usr/lib/systemd").mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        system_units,
        root / "usr/lib/systemd/system",
        symlinks=True,
        ignore=lambda _dir, names: [n for n in names if not n.endswith(".target")],
        dirs_exist_ok=True,
    )
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", name],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
        check=False,
    )


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None
    or not any(Path(p).is_dir() for p in ("/usr/lib/systemd/system", "/lib/systemd/system")),
    reason="systemd-analyze is not installed here; the parser tests above still run",
)


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = _verify(UNIT_PATH.read_text(), tmp_path / "root", UNIT_PATH.name)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@needs_systemd_analyze
def test_systemd_analyze_verify_notices_a_bad_setting(tmp_path: Path) -> None:
    broken = UNIT_PATH.read_text().replace("KillMode=mixed", "KillMode=sometimes")
    result = _verify(broken, tmp_path / "root", UNIT_PATH.name)
    assert "KillMode" in result.stderr or "kill mode" in result.stderr


def test_the_units_command_is_the_runners_entry_point() -> None:
    """ExecStart's `python -m runner run`, from WorkingDirectory with the unit's PYTHONPATH
    (here: the repository laid out as in /opt/autostack/app)."""
    service = _unit()["Service"]
    command = _one(service, "ExecStart").split()
    assert command[1:] == ["-m", "runner", "run"]
    repo = UNIT_PATH.parents[2]
    result = subprocess.run(
        [sys.executable, *command[1:], "--help"],
        cwd=repo / "ec2-runner",
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: python -m runner run" in result.stdout

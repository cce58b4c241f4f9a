"""Each documented command starts as a process from the repository root with the venv's
Python (`python scripts/x.py --help`): the packages come from the install, no path edits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = [
    ["scripts/backup_now.py"],
    ["scripts/restore_api_backup.py"],
    ["scripts/cost_report.py"],
    ["scripts/check_package.py"],
    ["scripts/configure_prod.py"],
    ["scripts/gateway_responses.py"],
    ["-m", "runner"],
    ["-m", "runner.analysis"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[-1])
def test_documented_command_starts(command: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # pytest's pythonpath
    done = subprocess.run(
        [sys.executable, *command, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout.lower(), done.stdout
    assert "Traceback" not in done.stderr


def test_the_runner_module_starts_outside_the_repository(tmp_path: Path) -> None:
    # On the instance the runner is started from ec2-runner/ (no fallback path edit now).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "runner", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "python -m runner" in done.stdout


BENCHMARKS = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_imports_as_a_module_from_the_root(name: str) -> None:
    # `python -m bench.<name>` from the root: every import resolves without a path edit
    # (importing runs nothing: each benchmark's work is under `__main__`).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    source = (ROOT / "bench" / f"{name}.py").read_text()
    assert "sys.path" not in source, f"bench/{name}.py edits sys.path"
    argv = (
        ["-m", f"bench.{name}", "--help"]
        if "argparse" in source
        else ["-c", f"import bench.{name}"]
    )
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_the_local_stack_has_no_path_edit() -> None:
    # `make run` starts it as `python devtools/local_stack.py`: devtools is installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    local_stack = ROOT / "devtools" / "local_stack.py"
    assert "sys.path" not in local_stack.read_text()
    done = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(local_stack)!r})"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

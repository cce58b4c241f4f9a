"""Without the provider mirror the generated-deploy tier says NOT RUN, never passed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TIER = Path(__file__).resolve().parent


@pytest.mark.runs_without_mirror
def test_the_tier_is_reported_not_run_without_the_mirror(tmp_path: Path) -> None:
    env = dict(os.environ, AUTOSTACK_TF_PLUGIN_DIR=str(tmp_path / "no-mirror"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TIER / "test_gen_deploy_validate.py"),
            str(TIER / "test_gen_deploy_emulator.py"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert " passed" not in out, out[-3000:]
    assert "NOT RUN: no hashicorp/aws provider" in out, out[-3000:]
    assert "generated-deploy tier" in out  # the terminal-summary section
    assert "the generated-deploy tier (real AWS provider) did not run" in out
    assert proc.returncode == 0, out[-3000:]  # skipped, not failed: other tiers decide

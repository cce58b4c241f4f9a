"""The real `chalice package` output holds only the Lambda's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_chalice_package_holds_only_the_lambdas_dependencies(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_package.py", "--keep", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["ok"] is True and report["forbidden"] == {}
    entries = {item["entry"] for item in report["largest"]}
    assert "botocore" in entries  # it really packaged the dependencies
    assert (tmp_path / "deployment.zip").stat().st_size == report["zip_bytes"]
    assert report["zip_bytes"] < 50 * 1024 * 1024

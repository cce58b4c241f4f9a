"""checkov over infrastructure/: no failed check; every skip is written next to its
resource with a reason, and every skip written is one checkov applied."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.infra.infra_support import INFRA_DIR, REPO_ROOT

SKIP_COMMENT = re.compile(r"#checkov:skip=(CKV2?_AWS_\d+):(.*)$")


def _checkov_bin() -> Path:
    return Path(os.environ.get("CHECKOV_BIN") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    binary = _checkov_bin()
    assert binary.exists(), f"checkov not found at {binary} (make checkov, or set CHECKOV_BIN)"
    result = subprocess.run(
        [
            str(binary),
            *("-d", str(INFRA_DIR), "--framework", "terraform"),
            # Without --quiet the report also lists the skipped checks, which the second
            # test compares with the skip comments.
            *("-o", "json", "--compact"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def _skip_comments() -> list[tuple[str, str, str, str]]:
    """(file, check id, reason, the resource block it sits in) for each skip comment."""
    found = []
    for path in sorted(INFRA_DIR.glob("*.tf")):
        block = ""
        for line in path.read_text().splitlines():
            opening = re.match(r'^resource "([\w]+)" "([\w]+)" \{', line)
            if opening:
                block = f"{opening.group(1)}.{opening.group(2)}"
            elif line.startswith("}"):
                block = ""
            match = SKIP_COMMENT.search(line.strip())
            if match:
                found.append((path.name, match.group(1), match.group(2).strip(), block))
    return found


def test_checkov_reports_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 80  # it really looked at the resources
    assert summary["resource_count"] >= 30


def test_every_skip_sits_in_a_resource_with_a_reason(checkov_report: dict[str, Any]) -> None:
    skips = _skip_comments()
    assert skips, "expected the documented skips (cost trade-offs) to exist"
    for file, check_id, reason, block in skips:
        assert block, f"{file}: {check_id} skip is not inside a resource block"
        assert len(reason) >= 40, f"{file} {block}: {check_id} needs a real reason"
    assert len({(block, check_id) for _, check_id, _, block in skips}) == len(skips)
    # Each written skip matched a check checkov ran (no stale or misspelled skips), and
    # checkov skipped nothing else.
    skipped = {
        (c["file_path"].lstrip("/"), c["check_id"], c["resource"].split("[")[0])
        for c in checkov_report["results"]["skipped_checks"]
    }
    assert skipped == {(file, check_id, block) for file, check_id, _, block in skips}
    for check in checkov_report["results"]["skipped_checks"]:
        assert len(check["check_result"]["suppress_comment"]) >= 40, check["check_id"]

"""The dashboard's own unit tests (vitest: packing, cost chart data, log following, API client).

`make test` builds the dashboard first (`npm ci`), so node_modules is there; run alone:
`cd dashboard && npm test`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[3] / "dashboard"


def test_vitest_suite_passes() -> None:
    node = shutil.which("node")
    assert node, "node is missing: the dashboard's tests need Node.js 20+ (and npm)"
    vitest = DASHBOARD / "node_modules" / "vitest" / "vitest.mjs"
    assert vitest.is_file(), "dashboard/node_modules is missing: run `make dashboard` (npm ci)"
    done = subprocess.run(
        [node, str(vitest), "run", "--reporter=dot"],
        cwd=DASHBOARD,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CI": "1", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "passed" in done.stdout and "failed" not in done.stdout, done.stdout[-2000:]

"""The runner process killed (SIGKILL) during an apply: the sandbox ends with it.

Terraform runs in a bubblewrap sandbox (runner/sandbox.py) whose PID namespace dies with
the runner, so nothing of the job keeps running; the lock it held is a dead run's lock,
which the next job of that state releases (test_terraform_jobs.py covers that recovery)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.local_resources import LocalResources
from runner.terraform import lock_key, state_key
from tests.functional.terraform.harness import make_harness

ROOT = Path(__file__).resolve().parents[3]
# Run as a module from the root: `tests` and the installed packages import without path edits.
CHILD = "tests.functional.terraform.runner_child"


def test_killing_the_runner_mid_apply_ends_the_sandboxed_terraform(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    key = state_key("proj1", "killed")
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            CHILD,
            local_resources.endpoint_url,
            local_resources.bucket,
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert runner.stdout is not None
        for line in runner.stdout:
            if line.rstrip().endswith("(local-exec): slow-started"):
                break
        else:
            raise AssertionError("the apply never reached the slow resource")
        assert lock_key(key) in harness.object_keys()  # Terraform holds the lock
        runner.send_signal(signal.SIGKILL)  # the runner dies, no chance to clean up
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
    # bwrap got SIGINT when the runner died; with it the sandbox's PID namespace, so no
    # process of the job survives (the 30 s provisioner never finishes).
    deadline = time.monotonic() + 20
    while _sandboxed_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _sandboxed_processes(tmp_path)
    state = harness.state(key) if key in harness.object_keys() else {"resources": []}
    assert "slow" not in {r["name"] for r in state["resources"]}


def _sandboxed_processes(tmp_path: Path) -> list[int]:
    """Processes whose command line names this test's folder (bwrap and Terraform)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(tmp_path).encode() in cmdline and CHILD.encode() not in cmdline:
            found.append(int(proc.name))
    return found

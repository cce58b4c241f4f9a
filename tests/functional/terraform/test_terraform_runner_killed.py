"""The runner process killed (SIGKILL) during an apply: Terraform still stops and frees its lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.local_resources import LocalResources
from runner.terraform import lock_key, state_key
from tests.functional.terraform.harness import make_harness

CHILD = Path(__file__).with_name("runner_child.py")


def test_killing_the_runner_mid_apply_interrupts_terraform_which_releases_the_lock(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    key = state_key("proj1", "killed")
    runner = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            local_resources.endpoint_url,
            local_resources.bucket,
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
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
    # The orphaned Terraform got SIGINT from the kernel: it stops and frees the lock
    # well before its 30 s provisioner would have finished.
    deadline = time.monotonic() + 20
    while lock_key(key) in harness.object_keys() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock_key(key) not in harness.object_keys()
    assert "quick" in {r["name"] for r in harness.state(key)["resources"]}

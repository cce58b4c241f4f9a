"""Runner processes (`python -m runner run`) for tests that kill and restart them.

Each starts from the test's environment plus the local resources, in the test stage with
short waits, leases and heartbeats (a killed runner's job is seen as abandoned within
seconds), its own ledger and work folder, and its stderr in ``<name>.log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from devtools.local_resources import LocalResources

ROOT = Path(__file__).resolve().parents[2]
QUICK_RUNNER_ENV = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_RUNNER_WAIT_S": "1",
    "AUTOSTACK_RUNNER_VISIBILITY_S": "6",
    "AUTOSTACK_RUNNER_LEASE_S": "5",
    "AUTOSTACK_RUNNER_HEARTBEAT_S": "1",
    "AUTOSTACK_RUNNER_BUSY_REQUEUE_S": "1",
    "AUTOSTACK_RUNNER_IDLE_STOP_S": "0",
    "PYTHONPATH": "",
}


class RunnerProcesses:
    """Starts runner processes and kills whatever is still running at the end."""

    def __init__(self, resources: LocalResources, folder: Path, env: Mapping[str, str]) -> None:
        self.resources = resources
        self.folder = folder
        self.env = dict(env)
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, **env_overrides: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.resources.environment(), **QUICK_RUNNER_ENV}
        env.update(
            {
                "AUTOSTACK_RUNNER_ID": name,
                "AUTOSTACK_RUNNER_DB": str(self.folder / f"{name}.db"),
                "AUTOSTACK_RUNNER_WORK_DIR": str(self.folder / f"work-{name}"),
                **self.env,
                **env_overrides,
            }
        )
        with open(self.folder / f"{name}.log", "ab") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "runner", "run"],
                cwd=ROOT / "ec2-runner",
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

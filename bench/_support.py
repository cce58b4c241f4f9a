"""What the runner benchmarks share: a moto server, its resources and an idle runner process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.emulator import moto_server
from devtools.local_resources import LocalResources, create_local_resources

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunnerUnderTest:
    emulator_url: str
    resources: LocalResources
    process: subprocess.Popen[bytes]


@contextmanager
def runner_process() -> Iterator[RunnerUnderTest]:
    """`python -m runner run` (default settings, its own runner.db) against a fresh emulator;
    SIGTERM on the way out (the exit code is then on ``process.returncode``)."""
    with moto_server() as url, tempfile.TemporaryDirectory() as state:
        resources = create_local_resources(url)
        env = dict(os.environ, **resources.environment())
        env.update(
            {
                "AUTOSTACK_STAGE": "local",
                "AUTOSTACK_RUNNER_DB": str(Path(state) / "runner.db"),
                "AUTOSTACK_RUNNER_WORK_DIR": str(Path(state) / "work"),
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "run"],
            cwd=ROOT / "ec2-runner",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield RunnerUnderTest(url, resources, process)
        finally:
            process.terminate()
            process.wait(timeout=30)

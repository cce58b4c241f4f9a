"""devtools.process.die_with_parent: a kill -9 of the parent also ends its children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil

PARENT = """
import subprocess, sys, time
from devtools.process import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True, preexec_fn=die_with_parent)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_dies_when_its_parent_is_killed_with_sigkill() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=root
    )
    child_pid = 0
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        child = psutil.Process(child_pid)
        assert child.is_running()
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        # the kernel delivers SIGTERM to the orphan at once
        child.wait(timeout=10)
        assert not psutil.pid_exists(child_pid) or child.status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        if child_pid and psutil.pid_exists(child_pid):
            os.kill(child_pid, signal.SIGKILL)

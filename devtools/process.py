"""Children of the local stack that die with their parent, even after a kill -9 of it."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """A ``preexec_fn``: the kernel sends SIGTERM to this child when its parent dies.

    Without it, ``kill -9`` of ``make run`` or of a pytest worker left the emulator,
    ``chalice local`` and the runner running (their own sessions keep them from the
    terminal's signals). Linux only; elsewhere a no-op. Note: the signal fires when the
    *thread* that spawned the child ends, so spawn from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

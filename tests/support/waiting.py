"""Bounded waits of the tests that drive real processes, and the overlap of time spans.

``wait_for`` polls a check until it answers something truthy (a job's end state, a row,
a file) and fails the test with what it waited for, and the last answer, once
``timeout_s`` has passed: the wait ends on the event, never on a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    """The first truthy answer of ``check``; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def most_at_once(spans: list[tuple[float, float]], slack_s: float = 0.0) -> int:
    """How many ``(start, end)`` spans overlapped at most; each span is narrowed by
    ``slack_s`` at both ends (clocks of several processes, a write's own latency)."""
    events: list[tuple[float, int]] = []
    for start, end in spans:
        events += [(start + slack_s, 1), (end - slack_s, -1)]
    most = current = 0
    for _, change in sorted(events):  # at one instant an end (-1) sorts before a start
        current += change
        most = max(most, current)
    return most

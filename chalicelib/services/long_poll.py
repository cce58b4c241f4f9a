"""One long poll for every "wait for a change" read (jobs, deployments, logs).

A client asks with ``?wait=N`` (counted in the status rate bucket); the API reads once,
and, unless that read is already settled, reads again every ``poll_s`` until the value
settles or changes or ``wait_s`` passes. The sleep and the clock are passed in (tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.5


def long_poll(
    read: Callable[[], T],
    *,
    first: T | None = None,
    settled: Callable[[T], bool],
    changed: Callable[[T, T], bool] = lambda first, current: False,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    poll_s: float = POLL_S,
) -> T:
    """The first read (or ``first``, read already) if settled or when there is no wait; else
    the first read that settled or changed from the first, or the last when ``wait_s`` ran out."""
    if first is None:
        first = read()
    current = first
    if wait_s <= 0 or settled(first):
        return first
    deadline = monotonic() + wait_s
    while monotonic() < deadline:
        sleep(min(poll_s, max(0.0, deadline - monotonic())))
        current = read()
        if settled(current) or changed(first, current):
            break
    return current

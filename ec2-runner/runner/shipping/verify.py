"""The verify phase: the app's health path answers 2xx/3xx within a bounded time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.shipping.executor import LogLine, PhaseFailedError

Probe = Callable[[str, float], int | None]
"""GET a URL with a timeout: its HTTP status, or None when nothing answered."""


@dataclass(frozen=True)
class HealthCheck:
    probe: Probe
    clock: Callable[[], float]
    sleep: Callable[[float], object]
    timeout_s: float = 30.0
    interval_s: float = 0.5
    request_timeout_s: float = 2.0


def health_url(url: str, health_path: str) -> str:
    return url.rstrip("/") + (health_path if health_path.startswith("/") else "/" + health_path)


def run(check: HealthCheck, url: str, health_path: str, log: LogLine) -> int:
    """The first 2xx/3xx status of the health URL; PhaseFailedError("verifying") when none
    came within ``timeout_s``."""
    target = health_url(url, health_path)
    deadline = check.clock() + check.timeout_s
    last: int | None = None
    attempts = 0
    while True:
        attempts += 1
        last = check.probe(target, check.request_timeout_s)
        if last is not None and 200 <= last < 400:
            log(f"GET {target} -> {last}")
            return last
        if check.clock() >= deadline:
            seen = f"the last answer was {last}" if last is not None else "nothing answered"
            raise PhaseFailedError(
                "verifying",
                f"GET {target} did not answer 2xx/3xx within {check.timeout_s:g} s "
                f"({attempts} attempts; {seen})",
            )
        check.sleep(check.interval_s)

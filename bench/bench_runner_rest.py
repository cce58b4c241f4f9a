"""The runner at rest: RSS and CPU of an idle `python -m runner run` over 60 s.

A moto server with an empty queue; the runner in its default configuration (20 s
long polls, heartbeat every 30 s, capacity sample every 60 s, DLQ sweep). After a
5 s warm-up, CPU time is measured over the window; RSS at the end.
Targets: RSS <= 80 MB, CPU <= 1 %. ``--seconds N`` shortens the window.
"""

from __future__ import annotations

import argparse
import json
import time

import psutil

from bench._support import runner_process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    window = parser.parse_args().seconds
    with runner_process() as stack:
        runner = stack.process
        proc = psutil.Process(runner.pid)
        time.sleep(5)
        before = proc.cpu_times()
        started = time.monotonic()
        peak_rss = 0
        while time.monotonic() - started < window:
            peak_rss = max(peak_rss, proc.memory_info().rss)
            time.sleep(1)
        after = proc.cpu_times()
        elapsed = time.monotonic() - started
        rss = proc.memory_info().rss
        threads = proc.num_threads()
    code = runner.returncode
    cpu_s = (after.user - before.user) + (after.system - before.system)
    cpu_percent = 100.0 * cpu_s / elapsed
    print(
        json.dumps(
            {
                "bench": "runner_at_rest",
                "window_s": round(elapsed, 1),
                "rss_mb": round(rss / 2**20, 1),
                "peak_rss_mb": round(max(peak_rss, rss) / 2**20, 1),
                "cpu_s": round(cpu_s, 3),
                "cpu_percent": round(cpu_percent, 3),
                "threads": threads,
                "exit_code_after_sigterm": code,
                "targets": {"rss_mb": 80, "cpu_percent": 1.0},
                "ok": rss <= 80 * 2**20 and cpu_percent <= 1.0 and code == 0,
            }
        )
    )


if __name__ == "__main__":
    main()

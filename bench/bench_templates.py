"""Benchmark of template generation: a whole bundle (all files + every target's estimate).

Prints one JSON object: warm p50/p95 per representative stack, and the first call in a
fresh process (imports excluded and included), measured in child processes.
Run: .venv/bin/python -m bench.bench_templates
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

STACKS = (
    "flask_postgres",
    "fastapi_stateless",
    "static_site",
    "rails_worker",
    "django_sqlite_celery",
    "laravel_mysql",
    "monorepo",
)
WARM_RUNS = 200
FRESH_RUNS = 5

_CHILD = """
import sys, time, json
t0 = time.perf_counter()
from chalicelib.generate import generate_bundle
from chalicelib.models.templates import TemplateRequest
from tests.golden.stack_profiles import PROFILES
profile = PROFILES[{stack!r}]()
request = TemplateRequest(analysis_id="bench")
t1, c1 = time.perf_counter(), time.process_time()
bundle = generate_bundle(profile, request)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({{"first_call_ms": (t2 - t1) * 1000, "with_imports_ms": (t2 - t0) * 1000,
                  "first_call_cpu_ms": (c2 - c1) * 1000, "files": len(bundle.files)}}))
"""


def warm(stack: str) -> dict[str, float]:
    from chalicelib.generate import generate_bundle
    from chalicelib.models.templates import TemplateRequest
    from tests.golden.stack_profiles import PROFILES

    profile = PROFILES[stack]()
    request = TemplateRequest(analysis_id="bench")
    generate_bundle(profile, request)  # warm-up: templates compiled, prices loaded
    samples = []
    for _ in range(WARM_RUNS):
        start = time.perf_counter()
        bundle = generate_bundle(profile, request)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "target": bundle.target,
        "files": len(bundle.files),
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
    }


def fresh(stack: str) -> dict[str, float]:
    firsts, totals, cpus = [], [], []
    for _ in range(FRESH_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(stack=stack)],
            cwd=REPO,  # `-c` puts the working directory first: tests.golden imports
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout)
        firsts.append(result["first_call_ms"])
        totals.append(result["with_imports_ms"])
        cpus.append(result["first_call_cpu_ms"])
    return {
        "first_call_p50_ms": round(statistics.median(firsts), 2),
        "first_call_max_ms": round(max(firsts), 2),
        "first_call_with_imports_p50_ms": round(statistics.median(totals), 2),
        # CPU time is what the call costs; wall time also counts waiting for a busy machine.
        "first_call_cpu_p50_ms": round(statistics.median(cpus), 2),
    }


def main() -> None:
    results = {stack: {**warm(stack), **fresh(stack)} for stack in STACKS}
    report = {
        "benchmark": "templates.generate_bundle",
        "warm_runs": WARM_RUNS,
        "fresh_process_runs": FRESH_RUNS,
        "stacks": results,
        "warm_p50_ms_max": max(r["p50_ms"] for r in results.values()),
        "first_call_ms_max": max(r["first_call_max_ms"] for r in results.values()),
        "first_call_cpu_p50_ms_max": max(r["first_call_cpu_p50_ms"] for r in results.values()),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "targets_ms": {"warm_p50": 30, "first_call": 300},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

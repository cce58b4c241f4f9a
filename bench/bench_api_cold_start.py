"""Cold start of the API: wall time of `import app` in a fresh interpreter (10 runs).

Prints one JSON object: median/min/max of the import alone and of the whole
interpreter process. Target: median import <= 250 ms.
Run: .venv/bin/python bench/bench_api_cold_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = (
    "import time, sys; t = time.perf_counter(); c = time.process_time(); import app; "
    "print(time.perf_counter() - t); "
    "print(int('boto3' in sys.modules), int('jwt' in sys.modules)); "
    "print(time.process_time() - c)"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    imports, processes, cpu = [], [], []
    heavy = None
    for _ in range(args.runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SNIPPET], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split("\n")
        processes.append((time.perf_counter() - started) * 1000)
        imports.append(float(out[0]) * 1000)
        heavy = out[1]
        cpu.append(float(out[2]) * 1000)
    print(
        json.dumps(
            {
                "benchmark": "api_cold_start",
                "runs": args.runs,
                "import_app_ms": {
                    "median": round(statistics.median(imports), 1),
                    "min": round(min(imports), 1),
                    "max": round(max(imports), 1),
                },
                # CPU time is less sensitive than wall time to other load on the machine.
                "import_app_cpu_ms": {"median": round(statistics.median(cpu), 1)},
                "load_average_1m": round(os.getloadavg()[0], 2),
                "interpreter_total_ms": {
                    "median": round(statistics.median(processes), 1),
                    "min": round(min(processes), 1),
                },
                "boto3_and_jwt_imported": heavy,
                "target_ms": 250,
                "meets_target": statistics.median(imports) <= 250,
            }
        )
    )


if __name__ == "__main__":
    main()

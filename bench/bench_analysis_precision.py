"""Precision of the code analysis over the example-app corpus (issue 18). Prints one JSON object.

Targets: false services <= 3 %, port and start command right >= 97 %, health path right
>= 95 % (``tests/unit/analysis/test_precision.py`` asserts them). Run:
``.venv/bin/python -m bench.bench_analysis_precision``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.unit.analysis.precision import measure, meets_targets

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    start = time.perf_counter()
    figures = measure()
    figures["seconds"] = round(time.perf_counter() - start, 3)
    figures["meets_targets"] = meets_targets(figures)
    print(json.dumps(figures, sort_keys=True))
    return 0 if figures["meets_targets"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

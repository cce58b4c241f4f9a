"""The platform's figures in one JSON object: the monthly bill at the original load
profile (scripts/cost_report.py), what each lever saves, and the size of the Lambda
package (`chalice package`, scripts/check_package.py).

    .venv/bin/python -m bench.bench_infra_cost [--no-package]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from chalicelib.generate.pricing import load_prices
from scripts.check_package import build_package, inspect_package
from scripts.cost_report import (
    ORIGINAL_DESIGN_USD,
    LoadProfile,
    levers,
    monthly_bill,
    read_shape,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-package", action="store_true", help="skip `chalice package`")
    args = parser.parse_args()
    started = time.perf_counter()
    prices, shape, profile = load_prices(), read_shape(), LoadProfile()
    bill = monthly_bill(prices, shape, profile)
    result: dict[str, object] = {
        "bench": "infra_cost",
        "profile": "10 users, 1,000 API requests/h, 50 analyses/day, 10 deployments/day",
        "api_routes": shape.api_routes,
        "monthly_list_usd": bill.monthly_usd,
        "monthly_after_always_free_usd": bill.monthly_free_tier_usd,
        "original_design_usd": ORIGINAL_DESIGN_USD,
        "top_items": sorted(
            ({"item": line.resource, "usd": line.monthly_free_tier_usd} for line in bill.lines),
            key=lambda row: -float(row["usd"]),
        )[:5],
        "levers": levers(prices, shape, profile),
        "report_seconds": round(time.perf_counter() - started, 3),
    }
    if not args.no_package:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            report = inspect_package(build_package("prod", Path(tmp) / "out"))
        result["package"] = {
            "zip_mb": round(report.zip_bytes / 1e6, 2),
            "unzipped_mb": round(report.unzipped_bytes / 1e6, 2),
            "files": report.files,
            "forbidden": report.forbidden,
            "largest": report.largest[:3],
            "seconds": round(time.perf_counter() - started, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""The runner's idle-stop tail against the bill and the boot wait: one JSON object.

    .venv/bin/python -m bench.bench_idle_stop_cost

For each AUTOSTACK_RUNNER_IDLE_STOP_S candidate, the monthly bill after always-free
allowances at both profiles (scripts/cost_report.py's model, the repository's shape
otherwise), the runner's awake hours, and the share of jobs that find the runner asleep
and wait for a boot (Poisson arrivals at the seed's ~3 jobs an hour: exp(-rate x tail)),
with the boot the API announces (RUNNER_BOOT_ESTIMATE_S). The chosen default is the
runner's own (ec2-runner/runner/settings.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

from chalicelib.generate.pricing import load_prices
from chalicelib.services.runner_wake import RUNNER_BOOT_ESTIMATE_S
from scripts.cost_report import (
    GOAL_USD,
    SEED_PROFILE,
    WORKING_HOURS_PROFILE,
    monthly_bill,
    read_shape,
)

CANDIDATES_S = (30, 60, 120, 180, 240, 300, 600)


def main() -> None:
    prices, shape = load_prices(), read_shape()
    profile = SEED_PROFILE
    jobs_per_hour = (profile.analyses_per_day + 2 * profile.deployments_per_day + 1) / 24
    rows = []
    for tail in CANDIDATES_S:
        candidate = replace(shape, runner_idle_stop_s=float(tail))
        seed = monthly_bill(prices, candidate, SEED_PROFILE)
        working = monthly_bill(prices, candidate, WORKING_HOURS_PROFILE)
        rows.append(
            {
                "idle_stop_s": tail,
                "seed_usd": seed.monthly_free_tier_usd,
                "working_hours_usd": working.monthly_free_tier_usd,
                "seed_runner_hours": seed.runner.hours if seed.runner else None,
                "seed_jobs_waiting_for_a_boot": round(math.exp(-jobs_per_hour * tail / 3600), 3),
                "meets_goal": seed.monthly_free_tier_usd <= GOAL_USD,
            }
        )
    print(
        json.dumps(
            {
                "bench": "idle_stop_cost",
                "default_idle_stop_s": shape.runner_idle_stop_s,
                "boot_wait_s": RUNNER_BOOT_ESTIMATE_S,
                "seed_jobs_per_hour": round(jobs_per_hour, 2),
                "goal_usd": GOAL_USD,
                "candidates": rows,
            }
        )
    )


if __name__ == "__main__":
    main()

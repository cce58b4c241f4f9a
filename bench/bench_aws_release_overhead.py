"""Benchmark: AutoStack's overhead around an AWS release (ECS), against the emulator.

    .venv/bin/python -m bench.bench_aws_release_overhead

The runner's release path (``runner.jobs.release`` with ``AUTOSTACK_RELEASE_EXECUTOR=aws``
pieces: the job's scoped session and the deploy role from the emulator's STS, the
source zipped and uploaded, CodeBuild started and followed, the release task run and
waited for, a new task definition and the service update, the health check of a
loopback server standing in for the app) runs RUNS times on one ECS stack. Time spent
sleeping between polls stands for AWS doing the work (the build, the task, the
roll-out) and is taken out: ``overhead_s`` = wall time - slept time, i.e. AutoStack's
own work plus the API calls (here answered by the emulator on loopback; in AWS each
costs tens of milliseconds more). Target: <= 3 s per release. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench._aws_release import ReleaseBench, overhead_figures
from tests.functional.shipping.aws_user_stack import health_server, make_user_stack, seed
from tests.support.emulator import moto_server

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main() -> None:
    with (
        moto_server() as url,
        tempfile.TemporaryDirectory(prefix="bench-aws-release-") as tmp,
        health_server(200) as app,
    ):
        bench = ReleaseBench(url, Path(tmp))
        stack = make_user_stack(url, "ecs-fargate", app.url)
        seed(bench, stack)
        # The same source each run: the emulator's build pushes nothing, so each run builds.
        runs = [bench.release(f"rel{run}") for run in range(RUNS)]
        builds = len(stack.builds())
    totals, sleeps = (list(values) for values in zip(*runs, strict=True))
    print(
        json.dumps(
            {
                "benchmark": "aws_release_overhead",
                "target": "ecs-fargate (emulator)",
                "runs": RUNS,
                "codebuild_builds": builds,
                **overhead_figures(totals, sleeps),
            }
        )
    )


if __name__ == "__main__":
    main()

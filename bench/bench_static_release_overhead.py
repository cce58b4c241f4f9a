"""Benchmark: AutoStack's overhead around a static site's AWS release, against the emulator.

    .venv/bin/python -m bench.bench_static_release_overhead

The runner's release path with the static executor (``runner.shipping.aws_static``: the
job's scoped session and the deploy role from the emulator's STS, the source zipped and
uploaded, CodeBuild started and followed, the release's files checked, CloudFront's
origin path moved and waited for, ``/*`` invalidated and waited for, the health check of
a loopback server standing in for the cloudfront.net URL) runs RUNS times on one stack,
alternating two sources: the first two runs build, the later ones find their release
built and only switch (a rollback's path). Time slept between polls
stands for AWS's own work (the build, the distribution's deployment, the invalidation)
and is taken out: ``overhead_s`` = wall time - slept time. The peer is the ECS path's
benchmark (``bench.bench_aws_release_overhead``): the same target of <= 3 s per release.
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from bench._aws_release import ReleaseBench, overhead_figures
from tests.functional.shipping.aws_user_stack import health_server
from tests.functional.shipping.static_user_stack import (
    FIXTURE,
    StaticStack,
    built_site,
    seed_static,
    tag_of,
    zip_source,
)
from tests.support.emulator import moto_server

RUNS = int(os.environ.get("BENCH_RUNS", "4"))


def main() -> None:
    with (
        moto_server() as url,
        tempfile.TemporaryDirectory(prefix="bench-static-release-") as tmp,
        health_server(200) as site,
    ):
        work = Path(tmp)
        bench = ReleaseBench(url, work)
        stack = StaticStack(url, site.url)
        changed = work / "changed"
        shutil.copytree(FIXTURE, changed)
        page = changed / "src" / "index.html"
        page.write_text(page.read_text().replace("Hello from", "Hello again from"))
        sources = {"up1": zip_source(FIXTURE), "up2": zip_source(changed)}
        seed_static(bench, stack, sources)
        # Stands in for CodeBuild's build + sync (moto runs no buildspec).
        for folder, archive in ((FIXTURE, sources["up1"]), (changed, sources["up2"])):
            stack.put_release(tag_of(archive), built_site(folder, work), marker=False)
        runs = [
            bench.release(f"rel{run}", upload_id="up1" if run % 2 == 0 else "up2")
            for run in range(RUNS)
        ]
        builds = len(stack.builds())
        invalidations = len(stack.invalidations())
    totals, sleeps = (list(values) for values in zip(*runs, strict=True))
    print(
        json.dumps(
            {
                "benchmark": "static_release_overhead",
                "target": "static (emulator)",
                "peer": "bench.bench_aws_release_overhead (ecs-fargate)",
                "runs": RUNS,
                "codebuild_builds": builds,
                "invalidations": invalidations,
                **overhead_figures(totals, sleeps),
                "load_1m": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()

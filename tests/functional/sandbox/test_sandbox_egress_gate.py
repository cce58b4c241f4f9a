"""The egress gate's bounds, with real sockets: open connections, idleness, bytes, and
requests that are not a CONNECT. (Through the whole sandbox: test_sandbox_network.py.)"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.egress import EgressGate, EgressPolicy, EgressSettings

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def upstream() -> Iterator[tuple[int, threading.Event]]:
    """A server that sends 64 KB on each connection, then holds it open until released."""
    server = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"y" * 65536)
            except OSError:
                return
            release.wait(30)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], release
    release.set()
    server.close()


def _gate(tmp_path: Path, port: int, **limits: float) -> EgressGate:
    settings = EgressSettings(**limits)  # type: ignore[arg-type]
    return EgressGate(tmp_path / "egress", EgressPolicy(frozenset({(LOOPBACK, port)})), settings)


def _connect(gate: EgressGate, target: str) -> tuple[socket.socket, bytes]:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(str(gate.socket_path))
    try:
        client.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
    except BrokenPipeError:
        pass  # a gate at its limit answers and closes without reading the request
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(1)
        if not chunk:
            break
        head += chunk
    return client, head


def _drain(client: socket.socket) -> int:
    """Bytes until the gate closes the connection (fails on the socket's timeout)."""
    total = 0
    while chunk := client.recv(65536):
        total += len(chunk)
    return total


def test_open_connections_are_bounded(
    tmp_path: Path, upstream: tuple[int, threading.Event]
) -> None:
    port, _release = upstream
    with _gate(tmp_path, port, max_connections=2) as gate:
        held = [_connect(gate, f"127.0.0.1:{port}") for _ in range(2)]
        assert all(head.startswith(b"HTTP/1.1 200") for _, head in held)
        third, head = _connect(gate, f"127.0.0.1:{port}")
        assert head.startswith(b"HTTP/1.1 503"), head
        assert "over 2 connections" in gate.refusals[-1].reason
        for client, _ in [*held, (third, b"")]:
            client.close()


def test_an_idle_connection_is_closed(
    tmp_path: Path, upstream: tuple[int, threading.Event]
) -> None:
    port, _release = upstream
    with _gate(tmp_path, port, idle_timeout_s=0.5) as gate:
        client, head = _connect(gate, f"127.0.0.1:{port}")
        assert head.startswith(b"HTTP/1.1 200")
        assert _drain(client) == 65536  # then nothing moves: the gate closes it
        client.close()


def test_bytes_are_bounded(tmp_path: Path, upstream: tuple[int, threading.Event]) -> None:
    port, _release = upstream
    with _gate(tmp_path, port, max_bytes=4096) as gate:
        client, head = _connect(gate, f"127.0.0.1:{port}")
        assert head.startswith(b"HTTP/1.1 200")
        assert _drain(client) <= 4096  # cut at the limit, not the 64 KB sent
        client.close()


def test_only_connect_is_relayed_and_the_socket_goes_with_the_gate(tmp_path: Path) -> None:
    with _gate(tmp_path, 1) as gate:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(10)
        client.connect(str(gate.socket_path))
        client.sendall(b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n")
        answer = client.recv(4096)
        client.close()
        assert answer.startswith(b"HTTP/1.1 405"), answer
        refused, head = _connect(gate, "169.254.169.254:80")
        assert head.startswith(b"HTTP/1.1 403"), head
        refused.close()
        path = gate.socket_path
    assert not path.exists() and not path.parent.exists()

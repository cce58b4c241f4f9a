"""Start moto's server (``devtools/emulator_server.py``) on a free loopback port, as a real
process: for the tests (``tests/support/emulator.py``), the benchmarks and the local stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.process import die_with_parent

_EMULATOR_SERVER = Path(__file__).resolve().parent / "emulator_server.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except Exception as exc:
            if getattr(exc, "code", None):  # an HTTP error status still means it is up
                return
            last_error = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s: {last_error}")


@contextmanager
def moto_server() -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server; stop it afterwards."""
    with moto_server_process() as (url, _proc):
        yield url


@contextmanager
def moto_server_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A fresh moto server: its URL and its process (to pause it, for instance)."""
    port = free_port()
    env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true")
    proc = subprocess.Popen(
        # moto's server with DynamoDB requests serialized (atomic, as in AWS): see there.
        [sys.executable, str(_EMULATOR_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        preexec_fn=die_with_parent,  # an interrupted (even kill -9) test run leaks no emulator
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/moto-api/")
        yield url, proc
    finally:
        proc.send_signal(signal.SIGCONT)  # a paused emulator cannot act on SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

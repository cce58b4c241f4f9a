"""The emulator for the tests: ``devtools.emulator`` (shared with the benchmarks and the local
stack, which cannot import the tests)."""

from devtools.emulator import free_port, moto_server, moto_server_process, wait_for_http

__all__ = ["free_port", "moto_server", "moto_server_process", "wait_for_http"]

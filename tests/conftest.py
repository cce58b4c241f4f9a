"""Shared fixtures: one moto server per test process (each xdist worker gets its own)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from devtools.local_resources import LocalResources, create_local_resources
from tests.support.emulator import moto_server

_suffixes = itertools.count()
_SHARED_SCOPES = frozenset({"module", "package", "class"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests that share a module-scoped fixture on one xdist worker.

    Under ``--dist loadgroup`` (the Makefile's), a module whose tests share an expensive
    fixture (a local stack, three Terraform applies) would otherwise be split across
    workers and each worker would build that fixture again. Runs before xdist's own hook,
    which turns the mark into the group suffix of the node id."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = any(
            defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values()
        )
        if shared:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def local_resources(emulator_url: str) -> LocalResources:
    """A fresh table, bucket, queues and key parameter for one test, on the shared server."""
    return create_local_resources(emulator_url, suffix=f"-t{next(_suffixes)}")

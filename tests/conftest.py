"""Shared fixtures: one moto server per test process (each xdist worker gets its own)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from devtools.local_resources import LocalResources, create_local_resources
from tests.support.emulator import moto_server

_suffixes = itertools.count()


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def local_resources(emulator_url: str) -> LocalResources:
    """A fresh table, bucket, queues and key parameter for one test, on the shared server."""
    return create_local_resources(emulator_url, suffix=f"-t{next(_suffixes)}")

"""Pure-test helpers: an AppContext over the in-memory store and a settable clock."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import AwsClients
from chalicelib.context import AppContext
from chalicelib.settings import Settings, load_settings
from chalicelib.store.memory import MemoryStore

KEY = "k" * 48


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(**overrides: Any) -> Settings:
    base = load_settings(
        {
            "AUTOSTACK_STAGE": "test",
            "AUTOSTACK_TABLE": "t",
            "AUTOSTACK_BUCKET": "bucket",
            "AUTOSTACK_QUEUE_URL": "http://q",
            "AUTOSTACK_JWT_KEY": KEY,
        }
    )
    return base.replace(**{"scrypt_n": 2**10, **overrides})


def make_context(clock: FakeClock | None = None, **overrides: Any) -> AppContext:
    settings = make_settings(**overrides)
    return AppContext(
        settings=settings,
        aws=AwsClients(settings.region),  # never used: the store is in memory
        store=MemoryStore(),
        clock=clock or FakeClock(),
    )

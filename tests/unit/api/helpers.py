"""Pure-test helpers: an AppContext over the in-memory store and a settable clock."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import AwsClients
from chalicelib.context import AppContext
from chalicelib.services.project_data import PurgeResult
from chalicelib.settings import Settings, load_settings
from chalicelib.store.registry import memory_stores

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


class FakeProjectData:
    """``ProjectData`` in memory: items per project (plain values) and object keys."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.objects: set[str] = set()

    def blocking_reason(self, project_id: str) -> tuple[str, dict[str, Any]] | None:
        from chalicelib.services.project_data import blocking_reason_of

        return blocking_reason_of(self.items.get(project_id, []))

    def purge(self, project_id: str) -> PurgeResult:
        from chalicelib.services.project_data import OBJECT_PREFIXES

        items = self.items.pop(project_id, [])
        prefixes = tuple(f"{p}/{project_id}/" for p in OBJECT_PREFIXES)
        gone = {key for key in self.objects if key.startswith(prefixes)}
        self.objects -= gone
        return PurgeResult(items=len(items), objects=len(gone))


def make_context(clock: FakeClock | None = None, **overrides: Any) -> AppContext:
    settings = make_settings(**overrides)
    return AppContext(
        settings=settings,
        aws=AwsClients(settings.region),  # never used: the stores are in memory
        _stores=memory_stores(),
        clock=clock or FakeClock(),
        project_data=FakeProjectData(),
    )

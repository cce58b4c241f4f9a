"""Persistence: the ``Store`` interface, ``DynamoStore`` and the ``MemoryStore`` fake."""

from chalicelib.store.base import Store
from chalicelib.store.records import (
    ProjectRecord,
    RefreshTokenRecord,
    RotateOutcome,
    RunnerHeartbeat,
    UserRecord,
)

__all__ = [
    "ProjectRecord",
    "RefreshTokenRecord",
    "RotateOutcome",
    "RunnerHeartbeat",
    "Store",
    "UserRecord",
]

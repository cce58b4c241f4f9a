"""The records the store reads and writes (plain dataclasses, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    email: str
    password_hash: str
    created_at: str
    project_count: int = 0


@dataclass(frozen=True)
class ProjectRecord:
    project_id: str
    owner_id: str
    name: str
    external_id: str
    created_at: str
    updated_at: str
    description: str = ""


@dataclass(frozen=True)
class RefreshTokenRecord:
    token_hash: str
    user_id: str
    family_id: str
    expires_at: int
    used: bool = False
    # Set when rotated: when, and the successor (its hash, and the token sealed with a key
    # only the spent token gives; chalicelib.auth.refresh_grace).
    used_at: int | None = None
    successor_hash: str | None = None
    successor_sealed: str | None = None


@dataclass(frozen=True)
class RunnerHeartbeat:
    runner_id: str
    at: float
    version: str | None = None
    current_job: str | None = None


RotateOutcome = Literal["rotated", "reused", "replayed", "invalid"]

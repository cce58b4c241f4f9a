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


@dataclass(frozen=True)
class RunnerHeartbeat:
    runner_id: str
    at: float
    version: str | None = None
    current_job: str | None = None


RotateOutcome = Literal["rotated", "reused", "invalid"]

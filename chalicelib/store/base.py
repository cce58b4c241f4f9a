"""The persistence interface of the API's own items (users, projects, tokens, counters).

``DynamoStore`` is the real one; ``MemoryStore`` is the in-memory fake for
pure unit tests. Both enforce limits atomically (conditional writes /
transactions in DynamoDB, one lock in memory). Keys: docs/architecture.md.

Other areas (jobs, uploads, ...) keep their own items in the same table and
reach it with ``context.aws.dynamodb`` and ``context.settings.table``.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.store.records import (
    ProjectRecord,
    RefreshTokenRecord,
    RotateOutcome,
    RunnerHeartbeat,
    UserRecord,
)


class Store(Protocol):
    # users
    def create_user(self, user: UserRecord, max_users: int) -> None:
        """Create the user and its unique-email item, counting against ``max_users``.

        Raises EmailTakenError (409) or LimitExceededError (403); nothing is written then.
        """

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def get_user_by_email(self, email: str) -> UserRecord | None: ...

    def get_credentials(self, email: str) -> tuple[str, str] | None:
        """``(user_id, password_hash)`` for a login, in one read; None for an unknown email."""

    def count_users(self) -> int: ...

    # projects
    def create_project(self, project: ProjectRecord, max_projects: int) -> None:
        """Create the project, raising LimitExceededError when the owner has ``max_projects``."""

    def get_project(self, owner_id: str, project_id: str) -> ProjectRecord | None: ...

    def list_projects(self, owner_id: str) -> list[ProjectRecord]: ...

    def get_project_owner(self, project_id: str) -> str | None: ...

    def update_project(
        self, owner_id: str, project_id: str, changes: dict[str, str], updated_at: str
    ) -> ProjectRecord | None:
        """Apply ``changes`` (name, description); None when the project does not exist."""

    def delete_project(self, owner_id: str, project_id: str) -> bool:
        """Delete and decrement the owner's count; False when it did not exist."""

    # refresh tokens
    def create_refresh_family(self, token: RefreshTokenRecord) -> None:
        """Store the first token of a new login (its family starts live)."""

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None: ...

    def rotate_refresh_token(
        self,
        old_hash: str,
        new: RefreshTokenRecord,
        now: int,
        successor_sealed: str | None = None,
        grace_s: int = 0,
    ) -> RotateOutcome:
        """Mark ``old_hash`` used (at ``now``, with its successor) and store ``new`` in one step.

        "reused": the old token was already used (the family is now revoked);
        "replayed": it was used less than ``grace_s`` ago (nothing written, not revoked);
        "invalid": unknown, expired or revoked family; nothing written.
        """

    def revoke_refresh_family(self, family_id: str, expires_at: int | None = None) -> None:
        """Revoke every token of the family; ``expires_at`` bounds the record's life (TTL)."""

    def is_family_revoked(self, family_id: str) -> bool: ...

    # counters (rate windows, login attempts)
    def hit_counter(self, pk: str, sk: str, limit: int, expires_at: int) -> int | None:
        """Atomically add 1 unless the count is already ``limit``; the new count or None."""

    def release_counter(self, pk: str, sk: str) -> None:
        """Take 1 back (never below zero)."""

    def get_counter(self, pk: str, sk: str, now: int) -> int:
        """The count, 0 when missing or expired."""

    # health
    def ping(self) -> None:
        """Raise if the table cannot be read."""

    def runner_heartbeats(self) -> list[RunnerHeartbeat]: ...

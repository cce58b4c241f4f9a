"""An in-memory ``Store`` for pure unit tests: same behaviour, one lock for atomicity."""

from __future__ import annotations

import threading
from dataclasses import replace

from chalicelib.errors import EmailTakenError, LimitExceededError, NotFoundError
from chalicelib.store.records import (
    ProjectRecord,
    RefreshTokenRecord,
    RotateOutcome,
    RunnerHeartbeat,
    UserRecord,
)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.users: dict[str, UserRecord] = {}
        self.emails: dict[str, str] = {}
        self.projects: dict[tuple[str, str], ProjectRecord] = {}
        self.tokens: dict[str, RefreshTokenRecord] = {}
        self.families: dict[str, bool] = {}  # family_id -> revoked
        self.counters: dict[tuple[str, str], tuple[int, int]] = {}  # -> (count, expires_at)
        self.heartbeats: list[RunnerHeartbeat] = []
        self.available = True

    def create_user(self, user: UserRecord, max_users: int) -> None:
        with self._lock:
            if user.email in self.emails:
                raise EmailTakenError("an account with this email already exists")
            if len(self.users) >= max_users:
                raise LimitExceededError("users", max_users)
            self.users[user.user_id] = replace(user, project_count=0)
            self.emails[user.email] = user.user_id

    def get_user(self, user_id: str) -> UserRecord | None:
        return self.users.get(user_id)

    def get_user_by_email(self, email: str) -> UserRecord | None:
        user_id = self.emails.get(email)
        return self.users.get(user_id) if user_id else None

    def get_credentials(self, email: str) -> tuple[str, str] | None:
        user = self.get_user_by_email(email)
        return (user.user_id, user.password_hash) if user else None

    def count_users(self) -> int:
        return len(self.users)

    def create_project(self, project: ProjectRecord, max_projects: int) -> None:
        with self._lock:
            owner = self.users.get(project.owner_id)
            if owner is None:
                raise NotFoundError("user not found")
            if owner.project_count >= max_projects:
                raise LimitExceededError("projects_per_user", max_projects)
            self.users[owner.user_id] = replace(owner, project_count=owner.project_count + 1)
            self.projects[(project.owner_id, project.project_id)] = project

    def get_project(self, owner_id: str, project_id: str) -> ProjectRecord | None:
        return self.projects.get((owner_id, project_id))

    def list_projects(self, owner_id: str) -> list[ProjectRecord]:
        found = [p for (owner, _), p in self.projects.items() if owner == owner_id]
        return sorted(found, key=lambda p: (p.created_at, p.project_id))

    def get_project_owner(self, project_id: str) -> str | None:
        for owner, pid in self.projects:
            if pid == project_id:
                return owner
        return None

    def update_project(
        self, owner_id: str, project_id: str, changes: dict[str, str], updated_at: str
    ) -> ProjectRecord | None:
        unknown = set(changes) - {"name", "description"}
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        with self._lock:
            current = self.projects.get((owner_id, project_id))
            if current is None:
                return None
            updated = replace(current, updated_at=updated_at, **changes)
            self.projects[(owner_id, project_id)] = updated
            return updated

    def delete_project(self, owner_id: str, project_id: str) -> bool:
        with self._lock:
            if self.projects.pop((owner_id, project_id), None) is None:
                return False
            owner = self.users[owner_id]
            self.users[owner_id] = replace(owner, project_count=max(0, owner.project_count - 1))
            return True

    def create_refresh_family(self, token: RefreshTokenRecord) -> None:
        with self._lock:
            self.tokens[token.token_hash] = token

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        return self.tokens.get(token_hash)

    def rotate_refresh_token(
        self,
        old_hash: str,
        new: RefreshTokenRecord,
        now: int,
        successor_sealed: str | None = None,
        grace_s: int = 0,
    ) -> RotateOutcome:
        with self._lock:
            old = self.tokens.get(old_hash)
            if old is None or old.expires_at <= now or old.family_id != new.family_id:
                return "invalid"
            if old.used:
                if old.used_at is not None and grace_s > 0 and 0 <= now - old.used_at <= grace_s:
                    return "replayed"
                self.families[old.family_id] = True
                return "reused"
            if self.families.get(old.family_id, False):
                return "invalid"
            self.tokens[old_hash] = replace(
                old,
                used=True,
                used_at=now,
                successor_hash=new.token_hash,
                successor_sealed=successor_sealed,
            )
            self.tokens[new.token_hash] = new
            return "rotated"

    def revoke_refresh_family(self, family_id: str, expires_at: int | None = None) -> None:
        with self._lock:
            self.families[family_id] = True

    def is_family_revoked(self, family_id: str) -> bool:
        return self.families.get(family_id, False)

    def hit_counter(self, pk: str, sk: str, limit: int, expires_at: int) -> int | None:
        with self._lock:
            count, _ = self.counters.get((pk, sk), (0, expires_at))
            if count >= limit:
                return None
            self.counters[(pk, sk)] = (count + 1, expires_at)
            return count + 1

    def release_counter(self, pk: str, sk: str) -> None:
        with self._lock:
            count, expires_at = self.counters.get((pk, sk), (0, 0))
            if count > 0:
                self.counters[(pk, sk)] = (count - 1, expires_at)

    def get_counter(self, pk: str, sk: str, now: int) -> int:
        count, expires_at = self.counters.get((pk, sk), (0, 0))
        return count if expires_at > now else 0

    def ping(self) -> None:
        if not self.available:
            raise ConnectionError("memory store marked unavailable")

    def runner_heartbeats(self) -> list[RunnerHeartbeat]:
        return list(self.heartbeats)

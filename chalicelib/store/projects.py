"""Projects: the item under its owner (``USER#<owner>`` / ``PROJECT#<id>``), a lookup item
(``PROJECT#<id>`` / ``PROJECT``: who owns it) and the owner's ``project_count``.

Creating and deleting are transactions over the three, so the per-user limit is a
condition inside the write it guards and the count never drifts from the items.
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.errors import LimitExceededError, NotFoundError
from chalicelib.store.expressions import Update, attr, item_absent, item_exists
from chalicelib.store.items import (
    Change,
    DynamoItems,
    ItemStore,
    MemoryItems,
    Put,
    Remove,
    StoreConditionError,
)
from chalicelib.store.records import ProjectRecord

COUNT = "project_count"  # on the owner's user item
CHANGEABLE = frozenset({"name", "description"})


def project_from(values: dict[str, Any]) -> ProjectRecord:
    return ProjectRecord(
        project_id=values["project_id"],
        owner_id=values["owner_id"],
        name=values["name"],
        external_id=values["external_id"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        description=values.get("description", ""),
    )


class ProjectStore(ItemStore):
    def create(self, project: ProjectRecord, max_projects: int) -> None:
        """Create the project; NotFoundError without its owner, LimitExceededError when the
        owner has ``max_projects`` (nothing written then)."""
        item = {
            "pk": keys.user_pk(project.owner_id),
            "sk": keys.project_sk(project.project_id),
            "project_id": project.project_id,
            "owner_id": project.owner_id,
            "name": project.name,
            "description": project.description,
            "external_id": project.external_id,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
        }
        lookup = {
            "pk": keys.project_pk(project.project_id),
            "sk": keys.PROJECT_SK,
            "owner_id": project.owner_id,
        }
        try:
            self._transact(
                [
                    Change(
                        keys.user_pk(project.owner_id),
                        keys.USER_SK,
                        Update().add(COUNT, 1),
                        item_exists() & attr(COUNT).lt(max_projects),
                    ),
                    Put(item, item_absent()),
                    Put(lookup, item_absent()),
                ]
            )
        except StoreConditionError as refused:
            if refused.failed(0):
                if self._get(keys.user_pk(project.owner_id), keys.USER_SK) is None:
                    raise NotFoundError("user not found") from None
                raise LimitExceededError("projects_per_user", max_projects) from None
            raise RuntimeError(f"project transaction cancelled: {refused.codes}") from None

    def get(self, owner_id: str, project_id: str) -> ProjectRecord | None:
        values = self._get(keys.user_pk(owner_id), keys.project_sk(project_id))
        return project_from(values) if values else None

    def list_owned(self, owner_id: str) -> list[ProjectRecord]:
        items = self._query(keys.user_pk(owner_id), keys.PROJECT_PREFIX, consistent=True)
        return sorted(map(project_from, items), key=lambda p: (p.created_at, p.project_id))

    def owner_of(self, project_id: str) -> str | None:
        values = self._get(keys.project_pk(project_id), keys.PROJECT_SK)
        return values["owner_id"] if values else None

    def update(
        self, owner_id: str, project_id: str, changes: dict[str, str], updated_at: str
    ) -> ProjectRecord | None:
        """Apply ``changes`` (name, description); None when the project does not exist."""
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        update = Update().set_all({**changes, "updated_at": updated_at})
        new = self._update(
            keys.user_pk(owner_id), keys.project_sk(project_id), update, item_exists()
        )
        return project_from(new) if new is not None else None

    def delete(self, owner_id: str, project_id: str) -> bool:
        """Delete the project and its lookup, and decrement the owner's count; False when
        it did not exist."""
        try:
            self._transact(
                [
                    Remove(keys.user_pk(owner_id), keys.project_sk(project_id), item_exists()),
                    Remove(keys.project_pk(project_id), keys.PROJECT_SK),
                    Change(
                        keys.user_pk(owner_id),
                        keys.USER_SK,
                        Update().add(COUNT, -1),
                        attr(COUNT).gt(0),
                    ),
                ]
            )
        except StoreConditionError as refused:
            if refused.failed(0):
                return False
            raise RuntimeError(f"project delete transaction cancelled: {refused.codes}") from None
        return True


class DynamoProjectStore(DynamoItems, ProjectStore):
    pass


class MemoryProjectStore(MemoryItems, ProjectStore):
    pass

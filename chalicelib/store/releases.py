"""Shipped releases (``RELEASE#<id>`` in the project's partition): what ran where.

A release is one build + release + rollout of one source upload onto one stack: its
image tag (derived from the source archive's content hash), the source upload, when,
who, and its status (``building`` ... ``live``, ``failed``, ``cancelled``,
``superseded``, ``rolled_back``). Release ids sort by time, so a prefix query is oldest first.
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.store.expressions import Update, item_absent, item_exists
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems

RELEASE_STATUSES = frozenset(
    {
        "building",
        "releasing",
        "verifying",
        "live",
        "failed",
        "cancelled",
        "superseded",
        "rolled_back",
        "retired",  # its stack was destroyed
    }
)


class ReleaseNotFoundError(LookupError):
    """No such release in the project."""


class ReleaseStore(ItemStore):
    def put(self, project_id: str, release_id: str, values: dict[str, Any]) -> None:
        """Write a new release (refused when the id exists)."""
        status = values.get("status")
        if status not in RELEASE_STATUSES:
            raise ValueError(f"status: {status!r} is not a release status")
        item = {
            "pk": keys.project_pk(project_id),
            "sk": keys.release_sk(release_id),
            "release_id": release_id,
            "project_id": project_id,
            **values,
        }
        if not self._put(item, item_absent()):
            raise ValueError(f"release {release_id} already exists")

    def get(self, project_id: str, release_id: str) -> dict[str, Any] | None:
        return self._get(keys.project_pk(project_id), keys.release_sk(release_id))

    def set_status(
        self, project_id: str, release_id: str, status: str, **values: Any
    ) -> dict[str, Any]:
        """Change an existing release's status (and more attributes); the new values."""
        if status not in RELEASE_STATUSES:
            raise ValueError(f"status: {status!r} is not a release status")
        update = Update().set_all({"status": status, **values})
        new = self._update(
            keys.project_pk(project_id), keys.release_sk(release_id), update, item_exists()
        )
        if new is None:
            raise ReleaseNotFoundError(f"release {release_id} not found")
        return new

    def list_project(self, project_id: str, stack: str | None = None) -> list[dict[str, Any]]:
        """The project's releases, newest first (of one stack when given)."""
        items = self._query(keys.project_pk(project_id), keys.RELEASE_PREFIX, consistent=True)
        if stack is not None:
            items = [i for i in items if i.get("stack") == stack]
        return sorted(
            items,
            key=lambda i: (float(i.get("created_at_epoch") or 0), str(i.get("release_id"))),
            reverse=True,
        )


class DynamoReleaseStore(DynamoItems, ReleaseStore):
    pass


class MemoryReleaseStore(MemoryItems, ReleaseStore):
    pass

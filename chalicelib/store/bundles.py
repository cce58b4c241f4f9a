"""Generated template bundles (``BUNDLE#<id>``): written once, read and listed."""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.store.expressions import item_absent
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems


class BundleStore(ItemStore):
    def put(self, project_id: str, bundle_id: str, values: dict[str, Any]) -> None:
        item = {"pk": keys.project_pk(project_id), "sk": keys.bundle_sk(bundle_id), **values}
        if not self._put(item, item_absent()):
            raise ValueError(f"bundle {bundle_id} already exists")

    def get(self, project_id: str, bundle_id: str) -> dict[str, Any] | None:
        return self._get(keys.project_pk(project_id), keys.bundle_sk(bundle_id))

    def list_project(self, project_id: str) -> list[dict[str, Any]]:
        return self._query(keys.project_pk(project_id), keys.BUNDLE_PREFIX)


class DynamoBundleStore(DynamoItems, BundleStore):
    pass


class MemoryBundleStore(MemoryItems, BundleStore):
    pass

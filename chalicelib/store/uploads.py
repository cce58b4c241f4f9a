"""Code uploads (``UPLOAD#<id>``) and uploaded Terraform bundles (``TFBUNDLE#<id>``).

Both are ``pending`` items (a TTL of a day; also filtered on read) that move once to
``ready`` (the TTL removed: analyses and deployments refer to them from now on) or
``rejected``. The same logic, two sort-key prefixes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import keys
from chalicelib.store.expressions import Condition, Update, attr, item_absent
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems


def is_pending() -> Condition:
    return attr("status").eq("pending")


class PendingItemStore(ItemStore):
    """Items created ``pending`` by a presigned upload and settled once after a check."""

    sort_key: Callable[[str], str]
    prefix: str

    def put_pending(self, project_id: str, item_id: str, values: dict[str, Any]) -> None:
        """Write a new item (None values left out)."""
        item = {
            "pk": keys.project_pk(project_id),
            "sk": type(self).sort_key(item_id),
            **{k: v for k, v in values.items() if v is not None},
        }
        if not self._put(item, item_absent()):
            raise ValueError(f"{item['sk']} already exists")

    def get_live(self, project_id: str, item_id: str, now: float) -> dict[str, Any] | None:
        """The item, or None when it is missing or past its ``expires_at``."""
        values = self._get(keys.project_pk(project_id), type(self).sort_key(item_id))
        return values if values is not None and _live(values, now) else None

    def list_live(self, project_id: str, now: float) -> list[dict[str, Any]]:
        items = self._query(keys.project_pk(project_id), self.prefix)
        return [values for values in items if _live(values, now)]

    def settle(
        self, project_id: str, item_id: str, status: str, changes: dict[str, Any]
    ) -> dict[str, Any] | None:
        """pending -> ``status`` with ``changes``, once: the new values, or None when a
        concurrent check settled it first (the caller reads the item again)."""
        update = Update().set("status", status).set_all(changes)
        if status == "ready":
            update.remove("expires_at")
        pk, sk = keys.project_pk(project_id), type(self).sort_key(item_id)
        return self._update(pk, sk, update, is_pending())


def _live(values: dict[str, Any], now: float) -> bool:
    expires_at = values.get("expires_at")
    return expires_at is None or expires_at >= now


class UploadStore(PendingItemStore):
    sort_key = staticmethod(keys.upload_sk)
    prefix = keys.UPLOAD_PREFIX


class TerraformBundleStore(PendingItemStore):
    sort_key = staticmethod(keys.tf_bundle_sk)
    prefix = keys.TF_BUNDLE_PREFIX


class DynamoUploadStore(DynamoItems, UploadStore):
    pass


class MemoryUploadStore(MemoryItems, UploadStore):
    pass


class DynamoTerraformBundleStore(DynamoItems, TerraformBundleStore):
    pass


class MemoryTerraformBundleStore(MemoryItems, TerraformBundleStore):
    pass

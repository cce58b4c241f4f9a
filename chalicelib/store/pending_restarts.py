"""The restart a config change queued for a stack (``RESTART#<stack>`` in the project's
partition): the ``release`` job id, so that a second change before that job starts joins
it instead of queueing another (the job reads the config when it runs).

The item is claimed with a condition (absent, or still naming the job the caller saw):
of two changes at once, one queues the job and the other joins it.
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.store.expressions import attr, item_absent
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems

RESTART_PREFIX = "RESTART#"


def restart_sk(stack: str) -> str:
    return f"{RESTART_PREFIX}{stack}"


class PendingRestartStore(ItemStore):
    def get(self, project_id: str, stack: str) -> dict[str, Any] | None:
        """The stack's last claimed restart (``job_id``, ``claimed_at_epoch``), if any."""
        return self._get(keys.project_pk(project_id), restart_sk(stack))

    def claim(
        self, project_id: str, stack: str, job_id: str, now: float, replacing: str | None
    ) -> bool:
        """Name ``job_id`` the stack's pending restart, if the item still names ``replacing``
        (None: there is none yet); False when another change claimed it first."""
        item = {
            "pk": keys.project_pk(project_id),
            "sk": restart_sk(stack),
            "project_id": project_id,
            "stack": stack,
            "job_id": job_id,
            "claimed_at_epoch": now,
        }
        condition = item_absent() if replacing is None else attr("job_id").eq(replacing)
        return self._put(item, condition)


class DynamoPendingRestartStore(DynamoItems, PendingRestartStore):
    pass


class MemoryPendingRestartStore(MemoryItems, PendingRestartStore):
    pass

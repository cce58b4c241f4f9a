"""Deployments (``DEPLOY#<id>``) and stacks (``STACK#<name>``) in a project's partition.

A stack's item names its newest deployment (``current_deployment_id``). It is moved
with a conditional write in the same transaction that creates the deployment, so two
deployments of a stack never run at once and an older plan can be told superseded.
"""

from __future__ import annotations

from typing import Any, Literal

from chalicelib import keys
from chalicelib.store.codec import timestamp
from chalicelib.store.expressions import Condition, Update, attr, item_absent
from chalicelib.store.items import (
    Change,
    Check,
    DynamoItems,
    ItemStore,
    MemoryItems,
    Put,
    StoreConditionError,
)

ApproveOutcome = Literal["approved", "superseded", "refused"]


class StackTakenError(Exception):
    """Another deployment of the stack became its newest first."""


# --------------------------------------------------------------------------- named clauses


def newest_of_stack(deployment_id: str) -> Condition:
    return attr("current_deployment_id").eq(deployment_id)


def stack_unchanged(previous: str | None) -> Condition:
    """The stack's newest deployment is still the one we saw (or it still has none)."""
    if previous is None:
        return attr("current_deployment_id").missing()
    return newest_of_stack(previous)


def not_approved() -> Condition:
    return attr("apply_job_id").missing()


def open_for_approval() -> Condition:
    return not_approved() & attr("cancelled_at").missing()


class DeploymentStore(ItemStore):
    def get(self, project_id: str, deployment_id: str) -> dict[str, Any] | None:
        return self._get(keys.project_pk(project_id), keys.deploy_sk(deployment_id))

    def list_project(self, project_id: str) -> list[dict[str, Any]]:
        return self._query(keys.project_pk(project_id), keys.DEPLOY_PREFIX)

    def stack_current(self, project_id: str, stack: str) -> str | None:
        item = self._get(keys.project_pk(project_id), keys.stack_sk(stack))
        return item.get("current_deployment_id") if item else None

    def create(self, values: dict[str, Any], previous: str | None) -> None:
        """Write the deployment and make it its stack's newest, unless another got there
        first (``StackTakenError``; nothing written)."""
        project_id, deployment_id = values["project_id"], values["deployment_id"]
        item = {
            "pk": keys.project_pk(project_id),
            "sk": keys.deploy_sk(deployment_id),
            **values,
        }
        stack = Update().set_all(
            {"current_deployment_id": deployment_id, "updated_at": values["created_at"]}
        )
        try:
            self._transact(
                [
                    Put(item, item_absent()),
                    Change(
                        keys.project_pk(project_id),
                        keys.stack_sk(values["stack"]),
                        stack,
                        stack_unchanged(previous),
                    ),
                ]
            )
        except StoreConditionError as exc:
            raise StackTakenError(str(exc.codes)) from None

    def approve(
        self, project_id: str, deployment_id: str, stack: str, apply_job_id: str, now: float
    ) -> ApproveOutcome:
        """Record the apply job, if the deployment is still its stack's newest and neither
        approved nor cancelled."""
        update = Update().set_all(
            {
                "apply_job_id": apply_job_id,
                "approved_at": timestamp_seconds(now),
                "approved_at_epoch": now,
            }
        )
        pk = keys.project_pk(project_id)
        try:
            self._transact(
                [
                    Check(pk, keys.stack_sk(stack), newest_of_stack(deployment_id)),
                    Change(pk, keys.deploy_sk(deployment_id), update, open_for_approval()),
                ]
            )
        except StoreConditionError as exc:
            return "superseded" if exc.failed(0) else "refused"
        return "approved"

    def cancel_planned(self, project_id: str, deployment_id: str, now: float) -> bool:
        """Mark a planned deployment dropped; False when it was approved meanwhile."""
        update = Update().set("cancelled_at", timestamp_seconds(now))
        pk, sk = keys.project_pk(project_id), keys.deploy_sk(deployment_id)
        return self._update(pk, sk, update, not_approved()) is not None


def timestamp_seconds(epoch: float) -> str:
    """The deployment's own timestamps (``created_at``, ``approved_at``...): whole seconds,
    as the API's answers have always shown them."""
    return timestamp(int(epoch)).replace(".000Z", "Z")


class DynamoDeploymentStore(DynamoItems, DeploymentStore):
    pass


class MemoryDeploymentStore(MemoryItems, DeploymentStore):
    pass

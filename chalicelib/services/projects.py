"""Use cases of projects. ``get_owned`` is how every area finds a user's project.

Another user's project answers exactly like a missing one (404), so ids
cannot be probed.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from chalicelib.context import AppContext
from chalicelib.errors import NotFoundError, ProjectBusyError
from chalicelib.observability import logger
from chalicelib.services.users import iso, new_id
from chalicelib.store.records import ProjectRecord

if TYPE_CHECKING:
    from chalicelib.services.project_data import ProjectData

_MAX_ID_LEN = 64


def _not_found(project_id: str) -> NotFoundError:
    return NotFoundError("project not found", details={"project_id": project_id[:_MAX_ID_LEN]})


def new_external_id() -> str:
    """The sts:ExternalId the user's deploy role must require (random, 32 characters)."""
    return secrets.token_hex(16)


def create(ctx: AppContext, owner_id: str, name: str, description: str = "") -> ProjectRecord:
    now = iso(ctx.clock())
    project = ProjectRecord(
        project_id=new_id(),
        owner_id=owner_id,
        name=name,
        description=description,
        external_id=new_external_id(),
        created_at=now,
        updated_at=now,
    )
    ctx.stores.projects.create(project, ctx.settings.max_projects_per_user)
    return project


def list_owned(ctx: AppContext, owner_id: str) -> list[ProjectRecord]:
    return ctx.stores.projects.list_owned(owner_id)


def get_owned(ctx: AppContext, owner_id: str, project_id: str) -> ProjectRecord:
    """The project if ``owner_id`` owns it; NotFoundError (404) otherwise."""
    if not project_id or len(project_id) > _MAX_ID_LEN:
        raise _not_found(project_id)
    project = ctx.stores.projects.get(owner_id, project_id)
    if project is None:
        raise _not_found(project_id)
    return project


def update(
    ctx: AppContext, owner_id: str, project_id: str, changes: dict[str, str]
) -> ProjectRecord:
    get_owned(ctx, owner_id, project_id)
    updated = ctx.stores.projects.update(owner_id, project_id, changes, iso(ctx.clock()))
    if updated is None:
        raise _not_found(project_id)
    return updated


def _project_data(ctx: AppContext) -> ProjectData:
    if ctx.project_data is None:
        from chalicelib.services.project_data import DynamoS3ProjectData

        ctx.project_data = DynamoS3ProjectData(
            ctx.aws.dynamodb, ctx.aws.s3, ctx.settings.table, ctx.settings.bucket
        )
    return ctx.project_data


def delete(ctx: AppContext, owner_id: str, project_id: str) -> None:
    """Delete a project with its items and objects; 409 while work is in flight or a stack
    may hold infrastructure (services.project_data).

    The purge runs before the project item goes: if it fails half-way the project is
    still there and DELETE can be retried; the user's project count drops only with
    the project item (one transaction).
    """
    get_owned(ctx, owner_id, project_id)
    data = _project_data(ctx)
    blocking = data.blocking_reason(project_id)
    if blocking is not None:
        message, details = blocking
        raise ProjectBusyError(message, details={"project_id": project_id, **details})
    purged = data.purge(project_id)
    if not ctx.stores.projects.delete(owner_id, project_id):
        raise _not_found(project_id)
    # A request that passed get_owned just before may have written an item meanwhile.
    late = data.purge(project_id)
    logger.info(
        "project deleted",
        extra={
            "project_id": project_id,
            "items": purged.items + late.items,
            "objects": purged.objects + late.objects,
        },
    )

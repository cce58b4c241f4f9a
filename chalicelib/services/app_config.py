"""App config and secrets (``GET/PUT/DELETE .../config``): what the routes do.

The parameters live in the **user's** account under ``models.app_config.parameter_prefix``
of the project's live stack, reached only through ``app_config_ssm`` (a deploy-role
session limited to that prefix). Values never touch AutoStack's table, logs or job
messages; secrets are write-only (SecureString; listed without their value).

The stack is the one of the project's newest ``live`` release (409 when none: there is
no app to configure). A change restarts the app through the release path
(``app_config_restart``: changes in quick succession share one queued restart;
``?restart=false`` batches changes without one).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import keys, observability
from chalicelib.context import AppContext
from chalicelib.errors import ConflictError, NotFoundError, RequestValidationError
from chalicelib.models.app_config import (
    MAX_ENTRIES,
    ConfigChangeOut,
    ConfigEntry,
    ConfigList,
    ConfigPut,
    entry_problems,
    name_problem,
)
from chalicelib.services.app_config_restart import queue_restart, refuse_if_busy
from chalicelib.services.app_config_ssm import (
    DeployRoleRefusedError,
    LiveTarget,
    ParameterNotFoundError,
    SsmFactory,
    assumed_ssm,
    delete_parameter,
    stored_parameters,
    write_parameter,
)
from chalicelib.store.records import ProjectRecord

__all__ = [
    "ConfigNameNotFoundError",
    "DeployRoleRefusedError",
    "LiveTarget",
    "NoLiveDeploymentError",
    "SsmFactory",
    "TooManyEntriesError",
    "assumed_ssm",
    "delete_config",
    "list_config",
    "live_target",
    "put_config",
]


class NoLiveDeploymentError(ConflictError):
    code = "no_live_deployment"


class TooManyEntriesError(ConflictError):
    code = "config_full"


class ConfigNameNotFoundError(NotFoundError):
    code = "config_name_not_found"


def live_target(ctx: AppContext, project: ProjectRecord) -> LiveTarget:
    """The project's live stack and its deploy role; 409 when nothing is live."""
    project_id = project.project_id
    live = next(
        (r for r in ctx.stores.releases.list_project(project_id) if r.get("status") == "live"),
        None,
    )
    deployment = None
    if live is not None:
        current = ctx.stores.deployments.stack_current(project_id, str(live.get("stack")))
        deployment = ctx.stores.deployments.get(project_id, current) if current else None
    if live is None or not deployment:
        raise NoLiveDeploymentError(
            "the project has no live deployment: launch or deploy the app first, then set"
            " its config",
            details={"project_id": project_id},
        )
    return LiveTarget(
        project_id=project_id,
        stack=str(live["stack"]),
        release=live,
        role_arn=str(deployment["role_arn"]),
        external_id=project.external_id,
        region=str(deployment.get("region") or ctx.settings.region),
    )


def _epoch(value: Any) -> float | None:
    return float(value.timestamp()) if hasattr(value, "timestamp") else None


def _generated_names(ctx: AppContext, target: LiveTarget) -> list[str]:
    """The ``generated`` secrets of the live release's app plan (values never shown)."""
    bundle_id = str(target.release.get("bundle_id") or "")
    if not bundle_id:
        return []
    key = keys.bundle_document_key(target.project_id, bundle_id)
    try:
        body = ctx.aws.s3.get_object(Bucket=ctx.settings.bucket, Key=key)["Body"].read()
        plans = (json.loads(body).get("record") or {}).get("plans") or []
    except Exception:  # an uploaded bundle, or a document gone: no generated secrets
        return []
    app = target.release.get("app")
    for plan in plans:
        if isinstance(plan, dict) and (app is None or plan.get("name") == app):
            return [
                str(s["name"])
                for s in plan.get("secrets") or []
                if isinstance(s, dict) and s.get("kind") == "generated" and s.get("name")
            ]
    return []


def _entries(
    ctx: AppContext, target: LiveTarget, stored: list[dict[str, Any]]
) -> list[ConfigEntry]:
    entries: dict[str, ConfigEntry] = {}
    for name in _generated_names(ctx, target):
        entries[name] = ConfigEntry(name=name, kind="generated")
    for parameter in stored:
        name = str(parameter.get("Name", "")).rsplit("/", 1)[-1]
        secret = parameter.get("Type") == "SecureString"
        entries[name] = ConfigEntry(
            name=name,
            kind="secret" if secret else "value",
            value=None if secret else str(parameter.get("Value", "")),
            updated_at_epoch=_epoch(parameter.get("LastModifiedDate")),
        )
    return [entries[n] for n in sorted(entries)]


def list_config(
    ctx: AppContext, project: ProjectRecord, ssm_for: SsmFactory | None = None
) -> ConfigList:
    target = live_target(ctx, project)
    ssm = (ssm_for or assumed_ssm(ctx))(target, False)
    return ConfigList(
        stack=target.stack,
        prefix=target.prefix,
        entries=_entries(ctx, target, stored_parameters(ssm, target)),
    )


def put_config(
    ctx: AppContext,
    project: ProjectRecord,
    body: ConfigPut,
    *,
    restart: bool,
    user_id: str,
    request_id: str | None,
    ssm_for: SsmFactory | None = None,
) -> ConfigChangeOut:
    """Set names (values as String, secrets as SecureString); nothing is written when a
    name is bad, the stack is busy (with a restart) or the total would pass the bound."""
    problems = entry_problems(body.values, body.secrets)
    if problems:
        raise RequestValidationError(
            f"{problems[0]['field']}: {problems[0]['message']}", details=problems
        )
    target = live_target(ctx, project)
    if restart:
        refuse_if_busy(ctx, target)
    ssm = (ssm_for or assumed_ssm(ctx))(target, True)
    stored = {str(p["Name"]).rsplit("/", 1)[-1]: p for p in stored_parameters(ssm, target)}
    wanted = {**{n: (v, "String") for n, v in body.values.items()},
              **{n: (v, "SecureString") for n, v in body.secrets.items()}}  # fmt: skip
    total = len(set(stored) | set(wanted))
    if total > MAX_ENTRIES:
        raise TooManyEntriesError(
            f"at most {MAX_ENTRIES} config names per stack ({total} with these)",
            details={"max": MAX_ENTRIES, "stack": target.stack},
        )
    for name, (value, kind) in sorted(wanted.items()):
        existing = stored.get(name)
        retype = existing is not None and existing.get("Type") != kind
        write_parameter(ssm, target, name, value, kind, retype=retype)
    changed = sorted(wanted)
    observability.logger.info(
        "app config set",
        extra={"project_id": target.project_id, "stack": target.stack, "names": changed},
    )
    return _restart(ctx, target, changed, restart, user_id, request_id)


def delete_config(
    ctx: AppContext,
    project: ProjectRecord,
    name: str,
    *,
    restart: bool,
    user_id: str,
    request_id: str | None,
    ssm_for: SsmFactory | None = None,
) -> ConfigChangeOut:
    why = name_problem(name)
    if why:  # a name that cannot be set is not set (as for any other unknown id)
        raise ConfigNameNotFoundError(
            f"{name[:130]!r} is not set: it {why}", details={"name": name[:130]}
        )
    try:
        target = live_target(ctx, project)
    except NoLiveDeploymentError:  # no live stack: nothing can be set
        raise ConfigNameNotFoundError(
            f"{name} is not set: the project has no live deployment",
            details={"name": name, "project_id": project.project_id},
        ) from None
    if restart:
        refuse_if_busy(ctx, target)
    ssm = (ssm_for or assumed_ssm(ctx))(target, True)
    try:
        delete_parameter(ssm, target, name)
    except ParameterNotFoundError:
        raise ConfigNameNotFoundError(
            f"{name} is not set on stack {target.stack!r}",
            details={"name": name, "stack": target.stack},
        ) from None
    observability.logger.info(
        "app config unset",
        extra={"project_id": target.project_id, "stack": target.stack, "names": [name]},
    )
    return _restart(ctx, target, [name], restart, user_id, request_id)


def _restart(
    ctx: AppContext,
    target: LiveTarget,
    changed: list[str],
    restart: bool,
    user_id: str,
    request_id: str | None,
) -> ConfigChangeOut:
    if not restart:
        return ConfigChangeOut(stack=target.stack, changed=changed, restarting=False)
    queued = queue_restart(ctx, target, user_id, request_id)
    if queued.joined:
        observability.logger.info(
            "app config restart joined",
            extra={"project_id": target.project_id, "stack": target.stack,
                   "job_id": queued.job_id},
        )  # fmt: skip
    return ConfigChangeOut(
        stack=target.stack,
        changed=changed,
        restarting=True,
        release_id=str(target.release["release_id"]),
        job_id=queued.job_id,
        # "already_queued": an earlier change's restart, not started, takes this one too.
        status="already_queued" if queued.joined else "queued",
    )

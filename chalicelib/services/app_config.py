"""App config and secrets in the user's SSM Parameter Store (``GET/PUT/DELETE .../config``).

The parameters live in the **user's** account under ``models.app_config.parameter_prefix``
of the project's live stack: the API assumes the project's deploy role with its
ExternalId and an inline session policy naming only that prefix (``models.app_config
.session_policy``), so a bug here cannot reach anything else of the user's. Values never
touch AutoStack's table, logs or job messages; secrets are write-only (SecureString; the
list reads with ``WithDecryption=False`` and drops their ciphertext).

The stack is the one of the project's newest ``live`` release (409 when none: there is
no app to configure). A change restarts the app through the release path: a ``release``
job of the live release's bundle and source (``?restart=false`` to batch changes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
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
    parameter_name,
    parameter_prefix,
    session_policy,
)
from chalicelib.store.records import ProjectRecord

SESSION_S = 900  # the shortest STS allows: one request's work


class NoLiveDeploymentError(ConflictError):
    code = "no_live_deployment"


class DeployRoleRefusedError(ConflictError):
    """The user's role or SSM refused the scoped session (names the AWS error)."""

    code = "deploy_role_refused"


class TooManyEntriesError(ConflictError):
    code = "config_full"


class ConfigNameNotFoundError(NotFoundError):
    code = "config_name_not_found"


@dataclass(frozen=True)
class LiveTarget:
    """Where the project's app runs: the stack, its live release, the role to reach it."""

    project_id: str
    stack: str
    release: dict[str, Any]
    role_arn: str
    external_id: str
    region: str

    @property
    def prefix(self) -> str:
        return parameter_prefix(self.project_id, self.stack)


# (target, write) -> an SSM client of the scoped session; tests pass their own.
SsmFactory = Callable[[LiveTarget, bool], Any]


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


def assumed_ssm(ctx: AppContext) -> SsmFactory:
    """SSM clients of a deploy-role session limited to the target's prefix (AWS or the
    emulator: the same STS and SSM calls)."""

    def factory(target: LiveTarget, write: bool) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        policy = session_policy(target.role_arn, target.region, target.prefix, write=write)
        try:
            answer = ctx.aws.client("sts").assume_role(
                RoleArn=target.role_arn,
                RoleSessionName=f"autostack-config-{target.project_id}"[:64],
                ExternalId=target.external_id,
                Policy=json.dumps(policy, separators=(",", ":")),
                DurationSeconds=SESSION_S,
            )
        except (BotoCoreError, ClientError) as exc:
            raise DeployRoleRefusedError(
                f"could not assume the deploy role {target.role_arn}: {_aws_error(exc)}",
                details={"role_arn": target.role_arn},
            ) from None
        creds = answer["Credentials"]
        return boto3.session.Session().client(
            "ssm",
            region_name=target.region,
            endpoint_url=ctx.settings.aws_endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(
                connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 2}
            ),
        )

    return factory


def _aws_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        return f"{error.get('Code', 'error')}: {str(error.get('Message', ''))[:300]}"
    return type(exc).__name__


def _call(target: LiveTarget, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)``, an SSM call: a refusal names the prefix, the role and AWS's error
    (``ParameterNotFound`` passes through)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = (exc.response.get("Error") or {}).get("Code")
        if code == "ParameterNotFound":
            raise
        raise DeployRoleRefusedError(
            f"SSM refused to {what} under {target.prefix} with the deploy role"
            f" {target.role_arn}: {_aws_error(exc)}",
            details={"role_arn": target.role_arn, "prefix": target.prefix},
        ) from None
    except BotoCoreError as exc:
        raise DeployRoleRefusedError(
            f"SSM could not {what} under {target.prefix}: {type(exc).__name__}",
            details={"prefix": target.prefix},
        ) from None


def _stored(ssm: Any, target: LiveTarget) -> list[dict[str, Any]]:
    """The prefix's parameters (secrets without their value)."""

    def read() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Path": target.prefix,
                "Recursive": False,
                "WithDecryption": False,
                "MaxResults": 10,
            }
            if token:
                kwargs["NextToken"] = token
            page = ssm.get_parameters_by_path(**kwargs)
            found.extend(page.get("Parameters") or [])
            token = page.get("NextToken")
            if not token or len(found) > MAX_ENTRIES * 4:
                return found

    return list(_call(target, "list the config", read))


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
        entries=_entries(ctx, target, _stored(ssm, target)),
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
        _refuse_if_busy(ctx, target)
    ssm = (ssm_for or assumed_ssm(ctx))(target, True)
    stored = {str(p["Name"]).rsplit("/", 1)[-1]: p for p in _stored(ssm, target)}
    wanted = {**{n: (v, "String") for n, v in body.values.items()},
              **{n: (v, "SecureString") for n, v in body.secrets.items()}}  # fmt: skip
    total = len(set(stored) | set(wanted))
    if total > MAX_ENTRIES:
        raise TooManyEntriesError(
            f"at most {MAX_ENTRIES} config names per stack ({total} with these)",
            details={"max": MAX_ENTRIES, "stack": target.stack},
        )
    for name, (value, kind) in sorted(wanted.items()):
        full = parameter_name(target.prefix, name)
        existing = stored.get(name)
        if existing is not None and existing.get("Type") != kind:
            # A value becoming a secret (or back): SSM does not change a type in place.
            _call(target, "replace a parameter", ssm.delete_parameter, Name=full)
        _call(
            target,
            "write the config",
            ssm.put_parameter,
            Name=full,
            Value=value,
            Type=kind,
            Overwrite=True,
            Tier="Standard",
        )
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
        _refuse_if_busy(ctx, target)
    ssm = (ssm_for or assumed_ssm(ctx))(target, True)
    from botocore.exceptions import ClientError

    try:
        _call(
            target,
            "delete the config",
            ssm.delete_parameter,
            Name=parameter_name(target.prefix, name),
        )
    except ClientError:  # ParameterNotFound
        raise ConfigNameNotFoundError(
            f"{name} is not set on stack {target.stack!r}",
            details={"name": name, "stack": target.stack},
        ) from None
    observability.logger.info(
        "app config unset",
        extra={"project_id": target.project_id, "stack": target.stack, "names": [name]},
    )
    return _restart(ctx, target, [name], restart, user_id, request_id)


def _refuse_if_busy(ctx: AppContext, target: LiveTarget) -> None:
    """A restart waits for the stack's deployment or release in flight (checked before
    anything is written, so a refused change leaves the config as it was)."""
    from chalicelib.services import releases

    deploying = releases._active_deployment(ctx, target.project_id, target.stack)
    if deploying:
        raise releases.ReleaseBusyError(
            f"deployment {deploying} of stack {target.stack!r} is in progress: wait for it,"
            " or pass ?restart=false",
            details={"stack": target.stack, "deployment_id": deploying},
        )
    for release in ctx.stores.releases.list_project(target.project_id, target.stack):
        if release.get("status") in releases.IN_FLIGHT and releases._job_active(
            ctx, target.project_id, release.get("job_id")
        ):
            raise releases.ReleaseBusyError(
                f"release {release['release_id']} of stack {target.stack!r} is still in"
                " progress: wait for it, or pass ?restart=false",
                details={"stack": target.stack, "release_id": release["release_id"]},
            )


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
    from chalicelib.services import jobs

    live = target.release
    job = jobs.for_context(ctx).submit(
        project_id=target.project_id,
        kind="release",
        payload={
            "stack": target.stack,
            "bundle_id": live["bundle_id"],
            "upload_id": live["source_upload_id"],
            "created_by": user_id,
        },
        request_id=request_id,
    )
    return ConfigChangeOut(
        stack=target.stack,
        changed=changed,
        restarting=True,
        release_id=str(live["release_id"]),
        job_id=job.job_id,
        status="queued",
    )

"""The app's config in the **user's** SSM Parameter Store: every SSM call of the config
routes, through a deploy-role session limited to the stack's prefix.

The API assumes the project's deploy role with its ExternalId and an inline session
policy naming only that prefix (``models.app_config.session_policy``), so a bug here
cannot reach anything else of the user's. Secrets are SecureStrings, listed with
``WithDecryption=False`` (their ciphertext is dropped by the caller).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import ConflictError
from chalicelib.models.app_config import (
    MAX_ENTRIES,
    parameter_name,
    parameter_prefix,
    session_policy,
)

SESSION_S = 900  # the shortest STS allows: one request's work


class DeployRoleRefusedError(ConflictError):
    """The user's role or SSM refused the scoped session (names the AWS error)."""

    code = "deploy_role_refused"


class ParameterNotFoundError(LookupError):
    """The named parameter is not set."""


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
    (``ParameterNotFound`` becomes ``ParameterNotFoundError``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = (exc.response.get("Error") or {}).get("Code")
        if code == "ParameterNotFound":
            raise ParameterNotFoundError(str(kwargs.get("Name", ""))) from None
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


def stored_parameters(ssm: Any, target: LiveTarget) -> list[dict[str, Any]]:
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


def write_parameter(
    ssm: Any, target: LiveTarget, name: str, value: str, kind: str, *, retype: bool
) -> None:
    """Set ``name`` (``String`` or ``SecureString``); ``retype``: it exists with the other
    type, which SSM does not change in place (deleted first)."""
    full = parameter_name(target.prefix, name)
    if retype:
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


def delete_parameter(ssm: Any, target: LiveTarget, name: str) -> None:
    """Unset ``name``; ``ParameterNotFoundError`` when it is not set."""
    _call(
        target, "delete the config", ssm.delete_parameter, Name=parameter_name(target.prefix, name)
    )

"""App config and secrets: the API's contracts and the parameter layout the runner shares.

Values live in the **user's** SSM Parameter Store under ``/autostack/<project id>/<stack>/``
(plain values ``String``, secrets ``SecureString``), never in AutoStack's table. The
project id rather than its name: a rename must not orphan the parameters, and an id is
always a valid parameter path segment. Both the API (write, list names) and the runner
(read, at release) reach them through a session of the project's deploy role whose inline
session policy names only that prefix (``session_policy``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from chalicelib.models.api import QueryModel, RequestModel, ResponseModel

NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
MAX_VALUE_BYTES = 4096  # SSM standard tier's limit
MAX_ENTRIES = 50  # per stack: one page of names, a bounded environment
MAX_CHANGES = 50  # per request
# Set by the platform or the runtime (local runtime, ECS, Lambda), or able to change how
# the app's interpreter starts: never the user's to set.
RESERVED_NAMES = frozenset(
    {
        "PORT",
        "HOST",
        "PATH",
        "HOME",
        "USER",
        "SHELL",
        "PWD",
        "TZ",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
        "NODE_OPTIONS",
        "NODE_PATH",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
    }
)
RESERVED_PREFIXES = ("AWS_", "AUTOSTACK_", "LAMBDA_", "ECS_")
ROOT = "/autostack"

EntryKind = Literal["value", "secret", "generated"]


class AppConfigScopeError(ValueError):
    """A value that would widen the session policy or the path (names the field)."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a config name (None: it can)."""
    if not _NAME.fullmatch(name):
        return "must match " + NAME_PATTERN + " (upper case letters, digits, _)"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return "is reserved (set by the platform or the runtime)"
    return None


def entry_problems(values: dict[str, str], secrets: dict[str, str]) -> list[dict[str, str]]:
    """What is wrong with a PUT body's entries, one ``{"field", "message", "type"}`` each."""
    problems: list[dict[str, str]] = []
    if not values and not secrets:
        problems.append(
            {
                "field": "values",
                "message": "nothing to set: give values or secrets",
                "type": "empty",
            }
        )
    if len(values) + len(secrets) > MAX_CHANGES:
        problems.append(
            {
                "field": "values",
                "message": f"at most {MAX_CHANGES} names in one request",
                "type": "too_many",
            }
        )
    for group, entries in (("values", values), ("secrets", secrets)):
        for name, value in entries.items():
            field = f"{group}.{name[:130]}"
            why = name_problem(name)
            if why:
                problems.append(
                    {"field": field, "message": f"{name[:130]!r} {why}", "type": "name"}
                )
                continue
            if group == "values" and name in secrets:
                problems.append(
                    {"field": field, "message": "set as a value and a secret", "type": "duplicate"}
                )
            size = len(value.encode("utf-8"))
            if size > MAX_VALUE_BYTES:
                problems.append(
                    {
                        "field": field,
                        "message": f"{size} bytes: at most {MAX_VALUE_BYTES}",
                        "type": "too_long",
                    }
                )
            elif not value:
                problems.append(
                    {"field": field, "message": "empty (unset it instead)", "type": "empty"}
                )
            elif "\x00" in value:
                problems.append({"field": field, "message": "contains a NUL byte", "type": "value"})
    return problems


def parameter_prefix(project_id: str, stack: str) -> str:
    """``/autostack/<project>/<stack>`` (no trailing slash: GetParametersByPath's path)."""
    for field, value in (("project_id", project_id), ("stack", stack)):
        if not _SEGMENT.fullmatch(value):
            raise AppConfigScopeError(f"{field}: {value!r} cannot be a parameter path segment")
    return f"{ROOT}/{project_id}/{stack}"


def parameter_name(prefix: str, name: str) -> str:
    why = name_problem(name)
    if why:
        raise AppConfigScopeError(f"name: {name!r} {why}")
    return f"{prefix}/{name}"


def role_account(role_arn: str) -> tuple[str, str]:
    """(partition, account) of a deploy role ARN."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise AppConfigScopeError(f"role_arn: {role_arn!r} is not an IAM role ARN")
    return match.group(1), match.group(2)


def session_policy(role_arn: str, region: str, prefix: str, *, write: bool) -> dict[str, Any]:
    """The inline session policy for the config prefix: read (runner) or read/write (API).

    Nothing but the prefix's parameters and the SSM-mediated use of the KMS key that
    encrypts SecureStrings (``kms:ViaService``)."""
    partition, account = role_account(role_arn)
    if not _REGION.fullmatch(region):
        raise AppConfigScopeError(f"region: {region!r} is not an AWS region")
    base = f"arn:{partition}:ssm:{region}:{account}:parameter{prefix}"
    actions = ["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"]
    kms = ["kms:Decrypt"]
    if write:
        actions += ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters"]
        kms += ["kms:Encrypt", "kms:GenerateDataKey"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AppConfigPrefix",
                "Effect": "Allow",
                "Action": actions,
                "Resource": [base, base + "/*"],
            },
            {
                "Sid": "SecureStringsThroughSsm",
                "Effect": "Allow",
                "Action": kms,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"}},
            },
        ],
    }


def mask(text: str, secrets: list[str] | tuple[str, ...] | set[str]) -> str:
    """``text`` with every secret value (4 characters or more) replaced by ``****``.

    Longest first, so a secret that contains another is masked whole."""
    for value in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "****")
    return text


# --------------------------------------------------------------------------- API bodies


class ConfigPut(RequestModel):
    """``PUT /projects/{id}/config``: names to set (other names are left as they are)."""

    values: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_CHANGES,
        description="Plain values (SSM String), shown back by GET",
        examples=[{"LOG_LEVEL": "info"}],
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_CHANGES,
        description="Write-only values (SSM SecureString): GET shows the name, never the value",
        examples=[{"API_KEY": "s3cr3t-value"}],
    )


class ConfigQuery(QueryModel):
    restart: bool = Field(
        default=True,
        description="Restart the app with the new config (a release of the current image);"
        " false to batch several changes",
    )


class ConfigEntry(ResponseModel):
    name: str
    kind: EntryKind
    value: str | None = None  # plain values only
    updated_at_epoch: float | None = None


class ConfigList(ResponseModel):
    stack: str
    prefix: str  # where they live in the user's SSM
    entries: list[ConfigEntry]


class ConfigChangeOut(ResponseModel):
    """What changed; with a restart, the queued ``release`` job of the current release."""

    stack: str
    changed: list[str]
    restarting: bool
    release_id: str | None = None  # the live release being released again
    job_id: str | None = None
    status: str = "changed"

"""The AWS session a Terraform job runs with: never the runner's own credentials.

Uploaded Terraform is hostile code, and whatever credentials Terraform holds, a
provider or a file function can use. So for each Terraform command the runner asks
STS for a short session of the role ``AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN`` (the
runner's own role: the users' deploy-role trust policies name it) with an inline
*session policy*: the session can do at most what both the role and this policy
allow, and the policy names exactly what the job needs:

- ``sts:AssumeRole`` on the payload's deploy role, only with the project's ExternalId
  (the generated provider assumes it);
- ``s3:GetObject``/``s3:PutObject`` on that stack's state object and its lock object,
  ``s3:DeleteObject`` on the lock object (``use_lockfile``: the S3 backend writes and
  removes it);
- ``s3:ListBucket`` of exactly ``tfstate/workspaces/`` (the backend lists its workspace
  prefix at init; no project's state lives there).

Nothing else: no other project's state, no listing of ``tfstate/``, no uploads,
bundles, plans or logs (the runner moves the saved plan itself, outside the sandbox),
no table, no queue. Only this session's three variables reach Terraform's
environment (provider and S3 backend).

A session lasts one hour at most (chained role sessions cannot be longer), so each
command gets a fresh one (``JobSession.environment``): the command timeout is also
an hour.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

WORKSPACE_LIST_PREFIX = "tfstate/workspaces/"  # runner.terraform.WORKSPACE_KEY_PREFIX + "/"
SESSION_DURATION_S = 3600  # the most a chained role session may last
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_STATE_KEY = re.compile(r"^tfstate/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}\.tfstate$")
_SESSION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9+=,.@_-]")


class JobSessionError(Exception):
    """A job session cannot be built or obtained (names the value or the setting)."""


@dataclass(frozen=True)
class JobScope:
    """What one Terraform job may touch."""

    bucket: str  # AutoStack's bucket
    state_key: str  # tfstate/<project>/<stack>.tfstate
    deploy_role_arn: str  # the user's role, from the job's payload
    external_id: str  # the project's ExternalId

    def __post_init__(self) -> None:
        # Each of these ends up in a policy: a "*" or "?" would widen it (ARN globbing).
        checks = (
            ("bucket", self.bucket, _BUCKET),
            ("state_key", self.state_key, _STATE_KEY),
            ("role_arn", self.deploy_role_arn, _ROLE_ARN),
            ("external_id", self.external_id, _EXTERNAL_ID),
        )
        for name, value, pattern in checks:
            if not pattern.match(value):
                raise JobSessionError(f"{name}: {value!r} cannot be used in a job session")

    @property
    def lock_key(self) -> str:
        return self.state_key + ".tflock"


def session_policy(scope: JobScope, partition: str = "aws") -> dict[str, Any]:
    """The inline session policy of a job's session (pure; see the module doc)."""
    bucket_arn = f"arn:{partition}:s3:::{scope.bucket}"
    state_arn = f"{bucket_arn}/{scope.state_key}"
    lock_arn = f"{bucket_arn}/{scope.lock_key}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeTheDeployRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": scope.deploy_role_arn,
                "Condition": {"StringEquals": {"sts:ExternalId": scope.external_id}},
            },
            {
                "Sid": "StackState",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [state_arn, lock_arn],
            },
            {
                "Sid": "StackStateLock",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": lock_arn,
            },
            {
                "Sid": "WorkspaceListing",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"s3:prefix": WORKSPACE_LIST_PREFIX}},
            },
        ],
    }


def session_policy_json(scope: JobScope, partition: str = "aws") -> str:
    """The policy as sent to STS (compact: session policies are capped at 2,048 chars)."""
    return json.dumps(session_policy(scope, partition), separators=(",", ":"))


def session_name(job_id: str) -> str:
    """An STS session name for a job (shows in CloudTrail as the caller)."""
    return ("autostack-job-" + _SESSION_NAME_UNSAFE.sub("-", job_id))[:64]


@dataclass(frozen=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        """The only AWS credential variables Terraform gets."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class JobSessionIssuer:
    """Obtains job sessions with the runner's own credentials (``sts`` is a boto3 client)."""

    def __init__(self, sts: Any, role_arn: str, duration_s: int = SESSION_DURATION_S) -> None:
        match = _ROLE_ARN.match(role_arn)
        if match is None:
            raise JobSessionError(
                f"AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN: {role_arn!r} is not an IAM role ARN"
            )
        self._sts = sts
        self.role_arn = role_arn
        self.partition = match.group(1)
        self.duration_s = duration_s

    def issue(self, scope: JobScope, name: str) -> SessionCredentials:
        if scope.deploy_role_arn == self.role_arn:
            # Its session policy would let Terraform become the runner's role again.
            raise JobSessionError("role_arn: the deploy role cannot be AutoStack's own role")
        try:
            answer = self._sts.assume_role(
                RoleArn=self.role_arn,
                RoleSessionName=name,
                Policy=session_policy_json(scope, self.partition),
                DurationSeconds=self.duration_s,
            )
        except Exception as exc:  # botocore's errors: name what failed, not the stack
            raise JobSessionError(f"could not obtain the job's AWS session: {exc}") from None
        creds = answer["Credentials"]
        return SessionCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
        )

    @classmethod
    def for_runner(
        cls, role_arn: str, region: str, endpoint_url: str | None = None
    ) -> JobSessionIssuer:
        """An issuer with an STS client from the runner's own credentials."""
        import boto3
        from botocore.config import Config

        sts = boto3.session.Session(region_name=region).client(
            "sts",
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 4}),
        )
        return cls(sts, role_arn)


@dataclass(frozen=True)
class JobSession:
    """A job's credential source for ``runner.terraform.RunContext``: a fresh session
    per Terraform command (the runner masks its values in the logs)."""

    issuer: JobSessionIssuer
    scope: JobScope
    name: str

    def environment(self) -> dict[str, str]:
        return self.issuer.issue(self.scope, self.name).environment()

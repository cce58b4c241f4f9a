"""A Terraform job's credentials through the real job handler: Terraform holds a scoped
session from the emulator's STS (the session policy naming that stack only), never the
runner's keys. What that session may do is proven by the policy evaluator in
tests/unit/terraform/test_terraform_unit_job_session.py (moto does not enforce session
policies)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local_resources import LocalResources, create_local_resources
from runner.errors import PermanentJobError
from runner.job_session import JobScope, session_policy
from runner.jobs.registry import HandlerRegistry
from tests.functional.terraform.harness import ROLE_ARN
from tests.functional.terraform.jobs_harness import EXTERNAL_ID, make_jobs_harness
from tests.support.emulator import moto_server

PROBE = """
terraform {
  backend "s3" {}
}

resource "terraform_data" "probe" {
  provisioner "local-exec" {
    command = <<-EOT
      echo "KEY-SHA:$(printf %s "$AWS_ACCESS_KEY_ID" | sha256sum | cut -c1-16)"
      [ "$AWS_SECRET_ACCESS_KEY" = testing ] && echo RUNNER-SECRET || echo NOT-RUNNER-SECRET
      [ -n "$AWS_SESSION_TOKEN" ] && echo HAS-SESSION-TOKEN
      echo "ENDPOINT:$${AWS_ENDPOINT_URL:-none} PROFILE:$${AWS_PROFILE:-none}"
      echo "IMDS:$AWS_EC2_METADATA_DISABLED"
    EOT
  }
}
"""


@pytest.fixture
def local_resources() -> Iterator[LocalResources]:
    """An emulator of its own: moto's data dump (read below) fails on some other tests'
    items in a shared server, and this test reads every assumed role from it."""
    with moto_server() as url:
        yield create_local_resources(url, suffix="-creds")


def _assumed_roles(endpoint_url: str) -> list[dict[str, str]]:
    with urllib.request.urlopen(endpoint_url + "/moto-api/data.json") as answer:  # noqa: S310
        return json.load(answer)["sts"]["AssumedRole"]


def test_terraform_runs_with_the_jobs_scoped_session_never_the_runners_keys(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": PROBE})
    ctx = jobs.context("plan", jobs.payload(auto_approve=True))
    result = HandlerRegistry().resolve("plan")(ctx)
    assert result.status == "succeeded", result
    log = jobs.log_text(ctx)
    said = [
        line.split("(local-exec): ", 1)[1] for line in log.splitlines() if "(local-exec): " in line
    ]
    said = [line for line in said if not line.startswith("Executing:")]
    assert said[1:] == [
        "NOT-RUNNER-SECRET",
        "HAS-SESSION-TOKEN",
        "ENDPOINT:none PROFILE:none",
        "IMDS:true",
    ], said
    key_sha = said[0].removeprefix("KEY-SHA:")
    # The S3 backend wrote the state with the same session (the provisioner ran, the
    # state is there), and the key is one the emulator's STS issued for this job.
    state = jobs.clients.s3.get_object(
        Bucket=jobs.settings.bucket, Key="tfstate/proj1/dep1.tfstate"
    )
    assert json.loads(state["Body"].read())["resources"]
    sessions = {
        hashlib.sha256(role["access_key_id"].encode()).hexdigest()[:16]: role
        for role in _assumed_roles(local_resources.endpoint_url)
    }
    session = sessions[key_sha]
    assert session["role_arn"] == local_resources.session_role_arn
    assert session["session_name"] == f"autostack-job-{ctx.message.job_id}"
    scope = JobScope(jobs.settings.bucket, "tfstate/proj1/dep1.tfstate", ROLE_ARN, EXTERNAL_ID)
    assert json.loads(session["policy"]) == session_policy(scope)
    # One session per command (init, plan, show, apply, output): each at most an hour.
    mine = [r for r in sessions.values() if r["session_name"] == session["session_name"]]
    assert len(mine) >= 4


def test_a_job_naming_the_runners_own_role_as_deploy_role_is_refused(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": PROBE})
    ctx = jobs.context("plan", jobs.payload(role_arn=local_resources.session_role_arn))
    with pytest.raises(PermanentJobError, match="AutoStack's own role") as refused:
        HandlerRegistry().resolve("plan")(ctx)
    assert refused.value.code == "bad_payload"
    assert jobs.semaphore().holders() == []

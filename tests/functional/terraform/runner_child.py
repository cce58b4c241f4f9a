"""A stand-in runner process for the "runner killed during an apply" test.

    python -m tests.functional.terraform.runner_child ENDPOINT BUCKET WORK_DIR  (from the root)

Applies the SLOW_APPLY bundle with the S3 backend on the emulator, printing
Terraform's lines on stdout, so that the test can kill this process mid-apply.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

from devtools.local_resources import RUNNER_ROLE_NAME, create_runner_role
from runner.job_session import JobScope, JobSession, JobSessionIssuer
from runner.masking import SecretMasker
from runner.terraform import (
    RunContext,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    state_key,
)
from tests.functional.terraform.bundles import SLOW_APPLY, write_bundle


def main() -> None:
    endpoint, bucket, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    environ = {
        "PATH": os.environ.get("PATH", os.defpath),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,  # the sandbox's egress gate lets the emulator through
    }
    runner = TerraformRunner(
        TerraformSettings(work_root=work / "tf", allow_provisioners=True), environ=environ
    )
    source = write_bundle(work / "bundle", SLOW_APPLY)
    backend = StateBackend(bucket, state_key("proj1", "killed"), "us-east-1", endpoint)
    ws = runner.workspace("killed", source, backend)
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    issuer = JobSessionIssuer(sts, create_runner_role(endpoint, RUNNER_ROLE_NAME))
    scope = JobScope(bucket, backend.key, "arn:aws:iam::123456789012:role/deploy", "ext-1")
    run = RunContext(
        on_line=lambda line: print(line, flush=True),
        masker=SecretMasker(),
        credentials=JobSession(issuer, scope, "autostack-job-killed"),
    )
    runner.init(ws, run)
    runner.plan(ws, run)
    runner.apply(ws, run)


if __name__ == "__main__":
    main()

"""The bundle policy with Terraform's own configuration loader, and in the plan job."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.local_resources import LocalResources
from runner.errors import PermanentJobError
from runner.jobs.registry import HandlerRegistry
from runner.terraform_policy import BundlePolicy, check_bundle
from tests.functional.terraform.jobs_harness import make_jobs_harness

HOSTILE = """
terraform {
  required_providers {
    aws  = { source = "hashicorp/aws", version = "~> 6.0" }
    evil = { source = "someone/evil" }
  }
  backend "s3" {}
}

resource "terraform_data" "x" {
  provisioner "local-exec" {
    command = "curl http://169.254.169.254/latest/meta-data/iam/security-credentials/"
  }
}

data "terraform_remote_state" "neighbour" {
  backend = "s3"
  config = {
    bucket = "autostack-prod"
    key    = "tfstate/other-project/dep.tfstate"
  }
}

module "inner" {
  source = "./inner"
}

module "remote" {
  source = "git::https://example.com/x.git"
}

module "outside" {
  source = "../elsewhere"
}
"""

INNER = """
data "external" "run" {
  program = ["sh", "-c", "id"]
}
"""

GENERATED_STYLE = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
  backend "s3" {}
}

module "net" {
  source = "./modules/net"
}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_loader_finds_everything_that_would_run_on_the_runner(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    root = write(tmp_path / "bundle", {"main.tf": HOSTILE, "inner/main.tf": INNER})
    messages = [str(v) for v in check_bundle(root, BundlePolicy())]
    assert any("main.tf:5: provider registry.terraform.io/someone/evil" in m for m in messages)
    assert any('terraform_data.x: provisioner "local-exec" is not allowed' in m for m in messages)
    assert any("data.terraform_remote_state.neighbour: reading another" in m for m in messages)
    assert any("module remote: only local module sources" in m for m in messages)
    assert any(
        "module outside: source '../elsewhere' is not a folder inside" in m for m in messages
    )
    # Local modules are followed: the inner module's data source is found too.
    assert any(m.startswith("inner/main.tf:2: data.external.run: provider") for m in messages), (
        messages
    )


def test_a_generated_style_bundle_passes(tmp_path: Path) -> None:
    root = write(
        tmp_path / "bundle",
        {
            "versions.tf": GENERATED_STYLE,
            "modules/net/main.tf": 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n',
        },
    )
    assert check_bundle(root, BundlePolicy()) == []


def test_the_plan_job_refuses_a_bundle_with_a_provisioner(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path, allow_provisioners=False)
    jobs.upload_bundle(
        "b1",
        {
            "main.tf": 'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
            '    command = "id"\n  }\n}\n'
        },
    )
    ctx = jobs.context("plan", jobs.payload())
    with pytest.raises(PermanentJobError) as refused:
        HandlerRegistry().resolve("plan")(ctx)
    assert refused.value.code == "invalid_bundle"
    assert 'provisioner "local-exec" is not allowed' in refused.value.message
    assert "refused: main.tf:2: terraform_data.x: provisioner" in jobs.log_text(ctx)
    assert not [k for k in jobs.tf.object_keys() if k.startswith(("tfstate/", "plans/"))]
    assert jobs.semaphore().holders() == []

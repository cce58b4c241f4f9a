"""What a job's outputs and logs can carry out of the runner, through the real job handler:
sensitive outputs never in clear, the job session's keys masked wherever a bundle echoes
them, outputs bounded in size."""

from __future__ import annotations

from pathlib import Path

from devtools.local_resources import LocalResources
from runner.jobs.registry import HandlerRegistry
from tests.functional.terraform.jobs_harness import make_jobs_harness

LEAKY = """
terraform {
  backend "s3" {}
}

resource "terraform_data" "leak" {
  input = "x"
  provisioner "local-exec" {
    command = <<-EOT
      printf %s "$AWS_SECRET_ACCESS_KEY" > leaked; echo "key is $AWS_SECRET_ACCESS_KEY"
    EOT
  }
}

output "password" {
  value     = "hunter2-very-secret"
  sensitive = true
}

# The path is unknown at plan (timestamp()): read at apply, after the provisioner.
resource "terraform_data" "read" {
  input      = file("${path.module}/leaked${substr(timestamp(), 0, 0)}")
  depends_on = [terraform_data.leak]
}

output "leaked" {
  value = terraform_data.read.output
}

output "huge" {
  value = join("", [for i in range(1000) : "0123456789abcdefghij"])
}

output "app_url" {
  value = "https://example.test/${terraform_data.leak.id}"
}
"""


def test_outputs_are_masked_bounded_and_sensitive_ones_never_leave(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": LEAKY})
    ctx = jobs.context("plan", jobs.payload(auto_approve=True))
    result = HandlerRegistry().resolve("plan")(ctx)
    assert result.status == "succeeded", result
    outputs = result.result["outputs"]
    assert outputs["password"] == {"value": None, "sensitive": True}
    assert outputs["leaked"]["value"] == "****"  # the session's secret key, masked
    assert outputs["huge"]["value"] is None
    assert "over AutoStack's output limit" in outputs["huge"]["omitted"]
    assert outputs["app_url"]["value"].startswith("https://example.test/")
    log = jobs.log_text(ctx)
    assert "key is ****" in log
    assert "hunter2-very-secret" not in log and "hunter2-very-secret" not in str(result)

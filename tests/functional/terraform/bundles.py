"""Bundles of Terraform's built-in resources only (providers cannot be downloaded offline)."""

from __future__ import annotations

from pathlib import Path

BASIC = """
variable "role_arn" {
  type = string
}

variable "external_id" {
  type = string
}

variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "app" {
  input = "${var.greeting} from ${var.role_arn}"
}

resource "terraform_data" "step" {
  input = var.external_id

  provisioner "local-exec" {
    command = "echo provisioning-first; sleep %(sleep)s; echo provisioning-second"
  }
}

output "app_url" {
  value = "https://example.test/${terraform_data.app.id}"
}

output "external_id" {
  value = terraform_data.step.output
}
"""

SLOW_APPLY = """
resource "terraform_data" "quick" {
  input = "quick"
}

resource "terraform_data" "slow" {
  input = "slow"

  provisioner "local-exec" {
    command = "echo slow-started; sleep 30; echo slow-finished"
  }
}
"""

HCL_ERROR = """
resource "terraform_data" "broken" {
  input = "unterminated
}
"""

SECRETS = """
variable "db_password" {
  type      = string
  sensitive = true
}

resource "terraform_data" "leaky" {
  input = nonsensitive(var.db_password)

  provisioner "local-exec" {
    command = "echo key=$AWS_SECRET_ACCESS_KEY; echo token=$AWS_SESSION_TOKEN"
  }
}

output "password" {
  value     = var.db_password
  sensitive = true
}
"""


def write_bundle(folder: Path, main_tf: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf").write_text(main_tf, encoding="utf-8")
    return folder


# Generated bundles declare an empty S3 backend (a partial configuration).
PARTIAL_S3_BACKEND = """
terraform {
  backend "s3" {}
}

resource "terraform_data" "app" {
  input = "generated"
}
"""

# A bundle that tries to keep its state somewhere of its own choosing.
OWN_S3_SETTINGS = """
terraform {
  backend "s3" {
    bucket = "someone-elses-bucket"
    acl    = "public-read"
  }
}

resource "terraform_data" "app" {
  input = "sneaky"
}
"""

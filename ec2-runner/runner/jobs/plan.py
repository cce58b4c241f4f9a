"""The ``plan`` job (Terraform for a deployment): see ``runner.jobs.terraform_jobs``."""

from runner.jobs.terraform_jobs import handle_plan as handle

__all__ = ["handle"]

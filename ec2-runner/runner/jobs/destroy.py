"""The ``destroy`` job (Terraform for a deployment): see ``runner.jobs.terraform_jobs``."""

from runner.jobs.terraform_jobs import handle_destroy as handle

__all__ = ["handle"]

provider "aws" {
  region = var.region

  # Deploy into the user's account through their role; no access keys are stored.
  assume_role {
    role_arn     = var.role_arn
    external_id  = var.external_id
    session_name = "autostack-${var.name}"
  }

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "autostack"
    }
  }
}

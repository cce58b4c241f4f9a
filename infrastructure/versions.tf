# Terraform 1.11 brings write-only arguments; the AWS provider has `value_wo` on
# aws_ssm_parameter since 5.99 (6.x here) and the random provider has the
# ephemeral random_password since 3.7: together they keep the JWT signing key out
# of the state and the plan (see secrets.tf).
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7, < 4.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Application = "autostack"
      ManagedBy   = "terraform"
    })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # S3 bucket names are global: the account id makes the default unique.
  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-${local.account_id}-${var.region}")
}

terraform {
  required_version = "~> 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7"
    }
  }

  # State lives in S3; bucket, key, region and use_lockfile come from -backend-config (see README.md).
  backend "s3" {}
}

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws    = { source = "hashicorp/aws", version = ">= 5.100, < 7" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
    tls = {
      source  = "registry.terraform.io/hashicorp/tls"
      version = ">= 4.0"
    }
  }
  backend "s3" {}
}

provider "aws" {
  region = var.region
  assume_role {
    role_arn    = var.role_arn
    external_id = var.external_id
  }
  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "dns"
  region = "us-east-1"
}

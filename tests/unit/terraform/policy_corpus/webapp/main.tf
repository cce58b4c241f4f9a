locals {
  name        = "app-${var.environment}"
  is_prod     = var.environment == "prod"
  az_count    = local.is_prod ? 3 : 2
  subnet_bits = var.instance_count > 4 ? 8 : 4
  tags = merge({ Project = local.name, Prod = tostring(local.is_prod) }, var.extra_tags)
  cidrs = [for i in range(local.az_count) : cidrsubnet("10.0.0.0/16", local.subnet_bits, i)]
  ports = { for k, v in var.ingress : k => v.port if v.port != 22 }
  max_size = max(var.instance_count * 2, 4) % 10 + (local.is_prod ? 1 : 0)
  enabled  = !local.is_prod || var.instance_count >= 3 && length(var.extra_tags) < 5
}

module "network" {
  source   = "./modules/network"
  name     = local.name
  cidrs    = local.cidrs
  az_count = local.az_count
}

module "compute" {
  source    = "./modules/compute"
  count     = local.enabled ? 1 : 0
  name      = local.name
  subnets   = module.network.subnet_ids
  ports     = local.ports
  instances = var.instance_count
  providers = {
    aws = aws
  }
}

resource "random_password" "db" {
  length  = local.is_prod ? 32 : 16
  special = false
}

resource "tls_private_key" "deploy" {
  algorithm = "ED25519"
}

resource "aws_route53_zone" "main" {
  provider = aws.dns
  count    = local.is_prod ? 1 : 0
  name     = "${local.name}.example.com"
}

resource "terraform_data" "marker" {
  input = {
    sizes = [for s in module.network.subnet_ids : length(s) * 2]
    first = try(module.network.subnet_ids[0], null)
  }
  lifecycle {
    replace_triggered_by = [random_password.db]
  }
}

moved {
  from = terraform_data.old_marker
  to   = terraform_data.marker
}

removed {
  from = aws_route53_zone.legacy
  lifecycle {
    destroy = false
  }
}

check "health" {
  data "aws_caller_identity" "me" {}
  assert {
    condition     = data.aws_caller_identity.me.account_id != ""
    error_message = "no account"
  }
}

output "db_password" {
  value     = random_password.db.result
  sensitive = true
}

output "app_url" {
  value = length(module.compute) > 0 ? "https://${module.compute[0].dns}" : null
}

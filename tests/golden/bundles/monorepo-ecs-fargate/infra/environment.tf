locals {
  # Env var names whose values are secrets: kept in SSM Parameter Store, never in these files.
  secret_names = toset(["JWT_SECRET"])

  # Settings that point the app at the services created here.
  service_environment = {
    DB_HOST   = aws_db_instance.main.address
    DB_PORT   = tostring(aws_db_instance.main.port)
    DB_NAME   = aws_db_instance.main.db_name
    DB_USER   = aws_db_instance.main.username
    REDIS_URL = "rediss://${aws_elasticache_replication_group.cache.primary_endpoint_address}:6379"
  }

  app_environment = merge(var.app_environment, local.service_environment, {
    PORT = "3000"
  })
}

resource "aws_ssm_parameter" "secret" {
  #checkov:skip=CKV_AWS_337:SecureString under the AWS-managed SSM key; a customer key costs $1/month.
  for_each = local.secret_names

  name        = "/${var.name}/${each.key}"
  description = "Secret ${each.key} of ${var.name}; set it with aws ssm put-parameter --overwrite"
  type        = "SecureString"
  # A placeholder: the real value is set outside Terraform so it never enters code or variables.
  value = "replace-me"

  lifecycle {
    ignore_changes = [value]
  }
}

variable "app_config_path" {
  type        = string
  description = "SSM path of the app's config and secrets set through AutoStack (/autostack/<project>/<stack>); the app's roles may read exactly that path. Empty: none."
  default     = ""

  validation {
    condition     = can(regex("^(/autostack/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64})?$", var.app_config_path))
    error_message = "app_config_path must be empty or /autostack/<project>/<stack>."
  }
}

locals {
  # Secrets the framework needs: generated here, in your account (never in code or variables).
  generated_secrets = {
    "JWT_SECRET" = "alnum64"
  }
  # Secrets you provide: set each before the app can start
  #   aws ssm put-parameter --type SecureString --name /<name>/<SECRET> --value ...
  # (deployed by AutoStack: `autostack config set --secret <SECRET>`, kept under app_config_path)
  provided_secret_names = toset([])
  # Secrets of optional features: left unset (a placeholder would switch the feature on) until
  # you set them the same way.
  optional_secret_names = toset([])
  secret_names          = setunion(toset(keys(local.generated_secrets)), local.provided_secret_names)
  # Deployed by AutoStack, the secrets you provide live with the rest of the app's config.
  provided_secret_path = coalesce(var.app_config_path, "/${var.name}")
  secret_parameters = merge(
    { for name in keys(local.generated_secrets) : name => "/${var.name}/${name}" },
    { for name in local.provided_secret_names : name => "${local.provided_secret_path}/${name}" },
  )
  # The parameter of each secret the app receives (generated ones once they exist).
  secret_parameter_names = merge(
    { for name in local.provided_secret_names : name => local.secret_parameters[name] },
    { for name, parameter in aws_ssm_parameter.generated : name => parameter.name },
  )
  optional_secret_parameters = { for name in local.optional_secret_names : name => "${local.provided_secret_path}/${name}" }
  secret_arns = merge(
    { for name in local.provided_secret_names : name => "arn:aws:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter${local.secret_parameters[name]}" },
    { for name, parameter in aws_ssm_parameter.generated : name => parameter.arn },
  )

  # Settings that point the app at the services created here, the way the app reads them.
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

# One random value per generated secret, made by AWS in your account when Terraform applies.
data "aws_secretsmanager_random_password" "generated" {
  for_each = local.generated_secrets

  password_length     = 64
  exclude_punctuation = true
}

resource "aws_ssm_parameter" "generated" {
  #checkov:skip=CKV_AWS_337:SecureString under the AWS-managed SSM key; a customer key costs $1/month.
  for_each = local.generated_secrets

  name        = "/${var.name}/${each.key}"
  description = "Secret ${each.key} of ${var.name}, generated at the first apply"
  type        = "SecureString"
  # Laravel's APP_KEY is base64: and 32 random bytes; the others are 64 random characters.
  value = {
    alnum64         = data.aws_secretsmanager_random_password.generated[each.key].random_password
    laravel-app-key = "base64:${base64encode(substr(data.aws_secretsmanager_random_password.generated[each.key].random_password, 0, 32))}"
  }[each.value]

  lifecycle {
    # Generated once: later applies keep the value (and any value you rotate in).
    ignore_changes = [value]
  }
}

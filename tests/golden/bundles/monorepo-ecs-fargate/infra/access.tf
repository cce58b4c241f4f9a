data "aws_iam_policy_document" "app_access" {
  statement {
    sid       = "ReadOwnParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:aws:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter/${var.name}/*"]
  }

  statement {
    sid       = "ReadDatabasePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.main.master_user_secret[0].secret_arn]
  }
}

# The app's config set through AutoStack (var.app_config_path), read at exactly that path
# by ECS when a task starts.
data "aws_iam_policy_document" "app_config_read" {
  statement {
    sid       = "ReadAppConfig"
    actions   = ["ssm:GetParameters"]
    resources = ["${local.app_config_arn}/*"]
  }

  statement {
    sid       = "DecryptAppSecretsThroughSsm"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:${var.region}:${data.aws_caller_identity.current.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com"]
    }
  }
}

locals {
  app_config_arn = "arn:aws:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter${var.app_config_path}"
}

data "aws_caller_identity" "current" {}

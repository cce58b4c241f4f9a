data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy_attachment" "lambda_logs" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "lambda_xray" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_iam_role_policy" "lambda_access" {
  name   = "app-access"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.app_access.json
}

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_338:Logs are kept var.log_retention_days (default 14) to keep storage cheap.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_338:Logs are kept var.log_retention_days (default 14) to keep storage cheap.
  name              = "/autostack/${var.name}/api-access"
  retention_in_days = var.log_retention_days
}

locals {
  # With a config path (AutoStack): the provided secrets; else none.
  release_time_secrets = toset(flatten([for path in compact([var.app_config_path]) : tolist(local.provided_secret_names)]))
}

# Secrets are read from SSM Parameter Store when Terraform applies (a function has no secret
# injection); Lambda keeps its environment encrypted at rest. Deployed by AutoStack
# (app_config_path set), the secrets you provide reach the function with each release instead,
# so their values never enter Terraform's state.
data "aws_ssm_parameter" "secret" {
  for_each = { for name in setsubtract(keys(local.secret_parameters), local.release_time_secrets) : name => local.secret_parameters[name] }

  name            = local.secret_parameter_names[each.key]
  with_decryption = true
}

# The image runs the app's ordinary web server; the Lambda Web Adapter in it turns
# invocations into HTTP requests on the app's port.
resource "aws_lambda_function" "app" {
  #checkov:skip=CKV_AWS_116:Called synchronously by the HTTP API; a dead-letter queue only applies to async calls.
  #checkov:skip=CKV_AWS_117:Needs no private resources; inside a VPC it would need a NAT gateway ($33/month).
  #checkov:skip=CKV_AWS_272:Code signing applies to zip packages; this is an image from the stack's own ECR repository.
  #checkov:skip=CKV_AWS_173:The AWS-managed key encrypts the environment; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_115:Reserved concurrency would take from the account's small default pool; the API stage throttles instead.
  function_name = var.name
  role          = aws_iam_role.lambda.arn
  package_type  = "Image"
  image_uri     = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
  architectures = ["x86_64"]
  memory_size   = var.lambda_memory_mb
  timeout       = 29
  # Every change is a new version; the HTTP API serves the "live" alias.
  publish = true

  environment {
    variables = merge(
      local.app_environment,
      { for name, parameter in data.aws_ssm_parameter.secret : name => parameter.value },
      {
        AWS_LWA_PORT                 = "8000"
        AWS_LWA_READINESS_CHECK_PATH = "/health"
      },
    )
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.app, aws_iam_role_policy_attachment.lambda_logs]
}

# What the HTTP API invokes: traffic moves only when this alias moves. An AutoStack release
# moves it to a version published with the app's config, once verified, and leaves the
# function itself as Terraform wrote it, so a later apply that changes nothing publishes
# nothing and leaves the alias where the release put it.
resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.app.function_name
  function_version = aws_lambda_function.app.version
}

resource "aws_apigatewayv2_api" "app" {
  name          = var.name
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "app" {
  api_id                 = aws_apigatewayv2_api.app.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_alias.live.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "app" {
  #checkov:skip=CKV_AWS_309:A public web app: it does its own authentication.
  api_id    = aws_apigatewayv2_api.app.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.app.id}"
}

resource "aws_apigatewayv2_stage" "app" {
  api_id      = aws_apigatewayv2_api.app.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      method    = "$context.httpMethod"
      path      = "$context.path"
      status    = "$context.status"
      latency   = "$context.integrationLatency"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.app.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.app.execution_arn}/*/*"
}

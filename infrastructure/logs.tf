# The API's Lambda log groups, created here before `chalice deploy` so that they get
# a retention (Lambda would otherwise create them on first write, kept forever).
resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Lambda logs are encrypted by CloudWatch Logs by default; a customer-managed KMS key costs $1/month and the logs hold no secrets (tokens and keys are never logged).
  #checkov:skip=CKV_AWS_338:A year of request logs is not needed to run a 10-user tool; api_log_retention_days keeps them 30 days by default (raise it if an audit asks).
  for_each = toset(var.api_function_names)

  name              = "/aws/lambda/${each.key}"
  retention_in_days = var.api_log_retention_days
}

# Tracing is on ("xray": true in .chalice/config.json), but the default rule (1 request a
# second + 5%) would trace nearly every request at 10 users' traffic: sample a fixed share.
resource "aws_xray_sampling_rule" "api" {
  rule_name      = "autostack-api"
  priority       = 100
  version        = 1
  reservoir_size = 0
  fixed_rate     = var.xray_sampling_rate
  host           = "*"
  http_method    = "*"
  url_path       = "*"
  service_name   = "*"
  service_type   = "*"
  resource_arn   = "*"
}

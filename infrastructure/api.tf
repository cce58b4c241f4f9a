# The API's front door: an API Gateway HTTP API ($1.00 per million requests) in front of
# the Lambda `chalice deploy` creates, instead of the REST API Chalice builds ($3.50 per
# million). Chalice's REST API stays deployed but unused (an idle REST API costs nothing);
# docs/deploy.md says how to drop it.
#
# Payload format 1.0 is the REST API's event shape, which Chalice reads. Chalice routes on
# requestContext.resourcePath, and an HTTP API 1.0 event carries the route's path there:
# a catch-all `ANY /{proxy+}` would hand Chalice "/{proxy+}" for every call. So there is one
# route per Chalice route, listed in api_routes.json (written from app.app.routes by
# scripts/api_routes.py; tests/unit/infra checks that it matches the app). A request for
# another method or path gets API Gateway's 404 without invoking the Lambda.
#
# The stage is named like Chalice's (`api`): CloudFront's `/api/*` behaviour
# (dashboard.tf) forwards the path unchanged and the stage takes the prefix off, so the
# dashboard calls the API on its own origin (no CORS preflights) with no function in
# between.

# `chalice deploy` creates the function after the first apply (it needs this apply's
# outputs). Until it exists there is no integration, route or permission to point at it;
# the next `terraform apply` (docs/deploy.md, step 4) wires them.
data "aws_lambda_functions" "all" {}

locals {
  api_lambda_deployed = contains(data.aws_lambda_functions.all.function_names, var.api_http_function_name)
  api_routes          = toset(jsondecode(file("${path.module}/api_routes.json")).routes)
  api_function_arn    = "arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${var.api_http_function_name}"
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name_prefix}-http"
  description   = "AutoStack's API (the Chalice Lambda, payload format 1.0), behind the dashboard's CloudFront /api/*."
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "lambda" {
  count = local.api_lambda_deployed ? 1 : 0

  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = local.api_function_arn
  payload_format_version = "1.0"
  # Below the Lambda's 25 s (.chalice/config.json) plus its cold start: a hung call ends
  # as API Gateway's 503, not a client waiting on.
  timeout_milliseconds = 29000
}

resource "aws_apigatewayv2_route" "chalice" {
  #checkov:skip=CKV_AWS_309:The API authenticates in the Lambda (JWT bearer tokens, chalicelib/auth.py); /health, /auth/* and /openapi.json are public on purpose, and an API Gateway authorizer would bill a second invocation per request.
  for_each = local.api_lambda_deployed ? local.api_routes : toset([])

  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.lambda[0].id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Access logs are encrypted by CloudWatch Logs by default; a customer-managed KMS key costs $1/month and the lines hold no secrets (no headers, no bodies).
  #checkov:skip=CKV_AWS_338:A year of access logs is not needed to run a 10-user tool; api_log_retention_days keeps them 30 days by default.
  name              = "/aws/apigateway/${var.name_prefix}-http"
  retention_in_days = var.api_log_retention_days
}

resource "aws_apigatewayv2_stage" "api" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = var.api_stage_name
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    # One JSON line a request (about 250 bytes); sourceIp is CloudFront's edge behind
    # /api/*, the viewer's own address is in the Lambda's log.
    format = jsonencode({
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      requestTime      = "$context.requestTime"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      integrationError = "$context.integrationErrorMessage"
      latencyMs        = "$context.responseLatency"
    })
  }
}

# API Gateway may invoke the function, from this API's routes only.
resource "aws_lambda_permission" "http_api" {
  count = local.api_lambda_deployed ? 1 : 0

  statement_id  = "${var.name_prefix}-http-api"
  action        = "lambda:InvokeFunction"
  function_name = var.api_http_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

# CloudFront proves itself to the API with this header (dashboard.tf, origin custom
# header): only then does the API take CloudFront-Viewer-Address as the caller's address
# (AUTOSTACK_ORIGIN_TOKEN). A direct call to the execute-api address cannot forge it.
# It is kept in the state (an origin header is not write-only); leaking it lets a caller
# pick the address its per-IP limits count against, nothing more.
resource "random_password" "api_origin_token" {
  length  = 40
  special = false
}

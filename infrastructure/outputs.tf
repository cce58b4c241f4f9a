# Everything the API (scripts/configure_prod.py -> .chalice/config.json, stage
# prod) and the runner (/etc/autostack/runner.env, written by cloud-init) need.

output "region" {
  description = "AWS region of AutoStack's resources (AWS_DEFAULT_REGION)."
  value       = var.region
}

output "table_name" {
  description = "DynamoDB table (AUTOSTACK_TABLE)."
  value       = aws_dynamodb_table.main.name
}

output "table_arn" {
  description = "DynamoDB table ARN (for the API's IAM policy)."
  value       = aws_dynamodb_table.main.arn
}

output "bucket_name" {
  description = "S3 bucket (AUTOSTACK_BUCKET)."
  value       = aws_s3_bucket.main.id
}

output "bucket_arn" {
  description = "S3 bucket ARN (for the API's IAM policy)."
  value       = aws_s3_bucket.main.arn
}

output "queue_url" {
  description = "SQS jobs queue URL (AUTOSTACK_QUEUE_URL)."
  value       = aws_sqs_queue.jobs.url
}

output "queue_arn" {
  description = "SQS jobs queue ARN (for the API's IAM policy)."
  value       = aws_sqs_queue.jobs.arn
}

output "dlq_url" {
  description = "SQS dead-letter queue URL (AUTOSTACK_DLQ_URL)."
  value       = aws_sqs_queue.jobs_dlq.url
}

output "dlq_arn" {
  description = "SQS dead-letter queue ARN."
  value       = aws_sqs_queue.jobs_dlq.arn
}

output "jwt_key_param_name" {
  description = "SSM SecureString parameter of the JWT signing key (AUTOSTACK_JWT_KEY_PARAM)."
  value       = aws_ssm_parameter.jwt_signing_key.name
}

output "jwt_key_param_arn" {
  description = "ARN of the JWT signing key parameter (for the API's IAM policy)."
  value       = aws_ssm_parameter.jwt_signing_key.arn
}

output "runner_instance_id" {
  description = "The runner's EC2 instance id (aws ssm start-session --target <id>)."
  value       = aws_instance.runner.id
}

output "runner_role_arn" {
  description = "The runner's IAM role (its generated Terraform assumes users' roles from here)."
  value       = aws_iam_role.runner.arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alarms.arn
}

output "api_name" {
  description = "API Gateway name the latency alarm watches (must equal the Chalice app_name)."
  value       = var.api_name
}

output "dashboard_url" {
  description = "The dashboard's address (CloudFront); the API's CORS origin (AUTOSTACK_CORS_ORIGIN)."
  value       = "https://${aws_cloudfront_distribution.dashboard.domain_name}"
}

output "dashboard_distribution_id" {
  description = "The dashboard's CloudFront distribution (scripts/publish_dashboard.py --distribution-id)."
  value       = aws_cloudfront_distribution.dashboard.id
}

output "dashboard_prefix" {
  description = "Key prefix of the dashboard's files in the bucket (scripts/publish_dashboard.py)."
  value       = local.dashboard_prefix
}

output "api_url" {
  description = "The API through the dashboard's own origin (CloudFront /api/*): scripts/publish_dashboard.py writes it into config.json."
  value       = "https://${aws_cloudfront_distribution.dashboard.domain_name}/${var.api_stage_name}"
}

output "api_http_url" {
  description = "The HTTP API's own address (its stage), for checks from a shell; clients use api_url."
  value       = "${aws_apigatewayv2_api.http.api_endpoint}/${aws_apigatewayv2_stage.api.name}"
}

output "api_origin_token" {
  description = "The header value CloudFront sends the API (AUTOSTACK_ORIGIN_TOKEN): with it the API trusts CloudFront-Viewer-Address as the caller's address."
  value       = random_password.api_origin_token.result
  sensitive   = true
}

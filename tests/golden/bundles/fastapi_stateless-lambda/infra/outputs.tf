output "app_url" {
  description = "Where the app answers."
  value       = aws_apigatewayv2_api.app.api_endpoint
}

output "ecr_repository_url" {
  description = "Where CI pushes the app's image."
  value       = aws_ecr_repository.app.repository_url
}

output "log_group" {
  description = "CloudWatch log group of the app."
  value       = aws_cloudwatch_log_group.app.name
}

output "function_name" {
  description = "The Lambda function."
  value       = aws_lambda_function.app.function_name
}

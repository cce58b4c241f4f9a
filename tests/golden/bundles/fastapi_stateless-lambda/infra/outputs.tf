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

output "build_project" {
  description = "The CodeBuild project that builds the app's image (a deploy starts it)."
  value       = aws_codebuild_project.app.name
}

output "build_source_bucket" {
  description = "Where a deploy uploads the source CodeBuild builds."
  value       = aws_s3_bucket.build_source.bucket
}

output "function_name" {
  description = "The Lambda function."
  value       = aws_lambda_function.app.function_name
}

output "app_url" {
  description = "Where the app answers."
  value       = "http://${aws_eip.app.public_ip}"
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

output "instance_id" {
  description = "The instance (connect with: aws ssm start-session --target <id>)."
  value       = aws_instance.app.id
}

output "database_endpoint" {
  description = "Database host:port (private)."
  value       = aws_db_instance.main.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret holding the database password."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "redis_endpoint" {
  description = "Redis primary endpoint (private, TLS)."
  value       = aws_elasticache_replication_group.cache.primary_endpoint_address
}

output "files_bucket" {
  description = "Bucket for the app's files."
  value       = aws_s3_bucket.files.bucket
}

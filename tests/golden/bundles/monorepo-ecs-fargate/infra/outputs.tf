output "app_url" {
  description = "Where the app answers."
  value       = "http://${aws_lb.app.dns_name}"
}

output "ecr_repository_url" {
  description = "Where CI pushes the app's image."
  value       = aws_ecr_repository.app.repository_url
}

output "companion_repository_urls" {
  description = "Where CI pushes the images of the monorepo's other apps, by app."
  value       = { for name, repo in aws_ecr_repository.companion : name => repo.repository_url }
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

output "ecs_cluster" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.main.name
}

output "ecs_service" {
  description = "The app's ECS service (a deploy updates its task definition)."
  value       = aws_ecs_service.app.name
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

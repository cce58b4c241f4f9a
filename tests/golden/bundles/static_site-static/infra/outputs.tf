output "app_url" {
  description = "Where the app answers."
  value       = "https://${aws_cloudfront_distribution.site.domain_name}"
}

output "site_bucket" {
  description = "Bucket to upload the built site to."
  value       = aws_s3_bucket.site.bucket
}

output "cloudfront_distribution_id" {
  description = "Distribution to invalidate after an upload."
  value       = aws_cloudfront_distribution.site.id
}

output "build_project" {
  description = "The CodeBuild project that builds the site and uploads a release (a deploy starts it)."
  value       = aws_codebuild_project.app.name
}

output "build_source_bucket" {
  description = "Where a deploy uploads the source CodeBuild builds."
  value       = aws_s3_bucket.build_source.bucket
}

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

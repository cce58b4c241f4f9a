# The site's files: a private bucket that only CloudFront can read (origin access control).
resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_18:Access logs would need a second bucket; CloudFront is the only reader.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles the cost; the site is rebuilt from git.
  #checkov:skip=CKV_AWS_145:SSE-S3 encryption; a KMS key costs $1/month and needs a CloudFront key policy.
  #checkov:skip=CKV2_AWS_62:No consumer for event notifications.
  bucket_prefix = "${var.name}-site-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${var.name}-site"
  description                       = "CloudFront reads the private site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "site" {
  #checkov:skip=CKV_AWS_259:HSTS preload commits a whole registered domain; a cloudfront.net host cannot be preloaded.
  name    = "${var.name}-security-headers"
  comment = "Security headers for ${var.name}"

  security_headers_config {
    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "SAMEORIGIN"
      override     = true
    }

    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }

    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      override                   = true
    }

    xss_protection {
      mode_block = true
      protection = true
      override   = true
    }
  }
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_68:AWS WAF costs at least $5/month plus rules; the site is static files.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68); there is no server to exploit.
  #checkov:skip=CKV_AWS_86:Access logs need a logging bucket; enable them when needed.
  #checkov:skip=CKV_AWS_310:One origin; a failover origin doubles the storage.
  #checkov:skip=CKV_AWS_374:No geo restriction for a public site.
  #checkov:skip=CKV_AWS_174:The default CloudFront certificate (no custom domain) fixes the TLS policy.
  #checkov:skip=CKV2_AWS_42:No custom domain was requested; the cloudfront.net certificate is used.
  enabled             = true
  is_ipv6_enabled     = true
  comment             = "${var.name} static site"
  default_root_object = "index.html"
  price_class         = "PriceClass_100"
  http_version        = "http2and3"

  origin {
    domain_name = aws_s3_bucket.site.bucket_regional_domain_name
    origin_id   = "site-bucket"
    # Each release is uploaded to its own prefix and the deploy moves this path to it: a
    # release (or a rollback) switches at once, never half uploaded. var.image_tag is the
    # live release (AutoStack passes it) so an apply keeps what the deploy switched to; an
    # empty one trims to "" (the bucket's root, where CI uploads).
    origin_path              = trimsuffix("/releases/${var.image_tag}", "/releases/")
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  default_cache_behavior {
    target_origin_id       = "site-bucket"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    # The AWS managed CachingOptimized policy.
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    response_headers_policy_id = aws_cloudfront_response_headers_policy.site.id
  }

  # Single-page apps: unknown paths serve index.html.
  custom_error_response {
    error_code         = 403
    response_code      = 200
    response_page_path = "/index.html"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

data "aws_iam_policy_document" "site" {
  statement {
    sid       = "CloudFrontReadsSite"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site.json

  depends_on = [aws_s3_bucket_public_access_block.site]
}

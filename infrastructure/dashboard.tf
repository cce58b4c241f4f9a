# The web dashboard (dashboard/dist) in AWS: its files under dashboard/ in AutoStack's
# bucket, served by CloudFront through an origin access control (the bucket stays
# private). The same distribution sends /api/* to the API's HTTP API (api.tf), so the
# page calls the API on its own origin: no CORS preflight before a call (they were
# API Gateway requests on the bill). The API learns the caller's address from
# CloudFront-Viewer-Address, trusted only with CloudFront's origin token (api.tf), so
# the per-IP signup and login limits still count each caller, not the edge. Files are
# uploaded by scripts/publish_dashboard.py. Cost: CloudFront's always-free tier (1 TB
# out and 10M requests a month) covers the page and the API's calls through it.

locals {
  dashboard_prefix = "dashboard"
  dashboard_origin = "autostack-dashboard-s3"
  api_origin       = "autostack-api-http"
  # The page's own rules, sent as headers (a <meta> cannot say frame-ancestors). The API
  # and the presigned uploads are on *.amazonaws.com.
  dashboard_csp = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' https://*.amazonaws.com",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ])
}

resource "aws_cloudfront_origin_access_control" "dashboard" {
  name                              = "${var.name_prefix}-dashboard"
  description                       = "CloudFront reads the dashboard's files from AutoStack's bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

# /api/*: nothing cached, everything of the viewer's request but its Host forwarded (the
# Authorization header, cookies, query strings, the body), plus CloudFront's own
# CloudFront-Viewer-Address.
data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_but_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

resource "aws_cloudfront_response_headers_policy" "dashboard" {
  name    = "${var.name_prefix}-dashboard"
  comment = "Security headers of the AutoStack dashboard."

  security_headers_config {
    content_security_policy {
      content_security_policy = local.dashboard_csp
      override                = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }

    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

resource "aws_cloudfront_distribution" "dashboard" {
  #checkov:skip=CKV_AWS_68:AWS WAF costs $5 a month plus $1 a rule, more than the rest of AutoStack's fixed bill; the distribution only serves public static files.
  #checkov:skip=CKV2_AWS_47:The Log4j rule set is an AWS WAF managed rule group, and there is no WAF (see CKV_AWS_68); the origin is S3 static files, not Java.
  #checkov:skip=CKV_AWS_86:Standard logs need a log bucket with ACLs enabled and cost storage for a page of static files; the API's own logs record every call that matters.
  #checkov:skip=CKV_AWS_310:Origin failover needs a second origin bucket in another region; S3 is the single source of these files and a rebuild republishes them in seconds.
  #checkov:skip=CKV_AWS_374:Geo restriction would lock out users by country for no reason here; access is governed by the API's sign-in, not by where a visitor is.
  #checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate fixes the minimum at TLSv1 (browsers negotiate 1.2/1.3 anyway); TLSv1.2_2021 needs a custom domain and its ACM certificate.
  #checkov:skip=CKV2_AWS_42:A custom certificate needs a domain of one's own; the free *.cloudfront.net name and certificate serve the dashboard without one.
  enabled             = true
  comment             = "AutoStack dashboard"
  default_root_object = "index.html"
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  # North America and Europe only: the cheapest class (requests elsewhere are served
  # from those edges, a little slower).
  price_class = var.dashboard_price_class

  origin {
    origin_id                = local.dashboard_origin
    domain_name              = aws_s3_bucket.main.bucket_regional_domain_name
    origin_path              = "/${local.dashboard_prefix}"
    origin_access_control_id = aws_cloudfront_origin_access_control.dashboard.id
  }

  # The HTTP API's stage is named like the path prefix (var.api_stage_name, "api"): the
  # path goes through unchanged and the stage takes the prefix off.
  origin {
    origin_id   = local.api_origin
    domain_name = replace(aws_apigatewayv2_api.http.api_endpoint, "https://", "")

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # The Lambda may take its 25 s (.chalice/config.json); CloudFront's default is 30.
      origin_read_timeout = 30
    }

    custom_header {
      name  = "X-AutoStack-Origin-Token"
      value = random_password.api_origin_token.result
    }
  }

  ordered_cache_behavior {
    path_pattern             = "/${var.api_stage_name}/*"
    target_origin_id         = local.api_origin
    viewer_protocol_policy   = "https-only"
    allowed_methods          = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods           = ["GET", "HEAD"]
    compress                 = true
    cache_policy_id          = data.aws_cloudfront_cache_policy.disabled.id
    origin_request_policy_id = data.aws_cloudfront_origin_request_policy.all_but_host.id
  }

  # No custom error responses: a missing file is a 403 from S3, and the app routes with
  # #/... so a reload always asks for "/".
  default_cache_behavior {
    target_origin_id           = local.dashboard_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.dashboard.id
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

# CloudFront (this distribution only) may read dashboard/ and nothing else of the bucket;
# merged into the bucket policy (storage.tf, source_policy_documents).
data "aws_iam_policy_document" "dashboard_read" {
  statement {
    sid       = "DashboardReadByCloudFront"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.main.arn}/${local.dashboard_prefix}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.dashboard.arn]
    }
  }
}

# The page POSTs archives straight to presigned URLs of the bucket: another origin.
resource "aws_s3_bucket_cors_configuration" "main" {
  bucket = aws_s3_bucket.main.id

  cors_rule {
    allowed_origins = ["https://${aws_cloudfront_distribution.dashboard.domain_name}"]
    allowed_methods = ["POST"]
    allowed_headers = ["*"]
    max_age_seconds = 600
  }
}

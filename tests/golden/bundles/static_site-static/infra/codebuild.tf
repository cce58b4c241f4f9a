# The site build, in your account: CodeBuild runs the site's build from the source the deploy
# uploads to the build-source bucket and syncs the output to the site bucket under
# releases/IMAGE_TAG/ (the deploy then points CloudFront's origin path there).
resource "aws_s3_bucket" "build_source" {
  #checkov:skip=CKV_AWS_18:Access logs would need a second bucket; only the deploy writes and CodeBuild reads.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles the cost; every source is re-uploaded by a deploy.
  #checkov:skip=CKV_AWS_145:SSE-S3 encryption; a KMS key costs $1/month.
  #checkov:skip=CKV2_AWS_62:No consumer for event notifications.
  bucket_prefix = "${var.name}-build-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "build_source" {
  bucket                  = aws_s3_bucket.build_source.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "build_source" {
  bucket = aws_s3_bucket.build_source.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "build_source" {
  bucket = aws_s3_bucket.build_source.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "build_source" {
  bucket = aws_s3_bucket.build_source.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "build_source" {
  bucket = aws_s3_bucket.build_source.id

  rule {
    id     = "expire-build-sources"
    status = "Enabled"

    filter {}

    expiration {
      days = var.build_source_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_cloudwatch_log_group" "build" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_338:Logs are kept var.log_retention_days (default 14) to keep storage cheap.
  name              = "/aws/codebuild/${var.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "build_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codebuild.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "build" {
  name               = "${var.name}-build"
  assume_role_policy = data.aws_iam_policy_document.build_assume.json
}

data "aws_iam_policy_document" "build" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.build.arn}:*"]
  }

  statement {
    sid       = "ReadSource"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.build_source.arn}/sources/*"]
  }

  statement {
    sid       = "ListSite"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.site.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["releases/*"]
    }
  }

  statement {
    sid       = "WriteSiteReleases"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.site.arn}/releases/*"]
  }
}

resource "aws_iam_role_policy" "build" {
  name   = "build"
  role   = aws_iam_role.build.id
  policy = data.aws_iam_policy_document.build.json
}

resource "aws_codebuild_project" "app" {
  #checkov:skip=CKV_AWS_147:Build output is the site in its S3 bucket (SSE-S3); a customer KMS key costs $1/month.
  name           = "${var.name}-build"
  description    = "Builds the site of ${var.name} from an uploaded source"
  service_role   = aws_iam_role.build.arn
  build_timeout  = 30
  queued_timeout = 60

  artifacts {
    type = "NO_ARTIFACTS"
  }

  environment {
    compute_type                = "BUILD_GENERAL1_SMALL"
    type                        = "LINUX_CONTAINER"
    image                       = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    image_pull_credentials_type = "CODEBUILD"
    # No docker: the site builds with the image's own node/python/ruby/go runtimes.
    privileged_mode = false

    environment_variable {
      name  = "SITE_BUCKET"
      value = aws_s3_bucket.site.bucket
    }

    environment_variable {
      # The site's own address, for generators that write absolute links (Hugo's baseURL).
      name  = "SITE_URL"
      value = "https://${aws_cloudfront_distribution.site.domain_name}/"
    }

    environment_variable {
      # Each build passes the tag of its source (the content hash) as an override.
      name  = "IMAGE_TAG"
      value = ""
    }
  }

  source {
    type      = "S3"
    location  = "${aws_s3_bucket.build_source.bucket}/sources/latest.zip"
    buildspec = file("${path.module}/buildspec.yml")
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build.name
    }
  }
}

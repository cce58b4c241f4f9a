# The image build, in your account: CodeBuild builds the Dockerfile from the source the deploy
# uploads to the build-source bucket and pushes it to the ECR repository, tagged IMAGE_TAG.
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
    sid     = "EcrLogin"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken names no repository: AWS accepts only "*" here.
    resources = ["*"]
  }

  statement {
    sid = "PushImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
}

resource "aws_iam_role_policy" "build" {
  name   = "build"
  role   = aws_iam_role.build.id
  policy = data.aws_iam_policy_document.build.json
}

resource "aws_codebuild_project" "app" {
  #checkov:skip=CKV_AWS_147:Build output is an image in ECR; a customer KMS key costs $1/month.
  #checkov:skip=CKV_AWS_316:docker build needs privileged mode; the build runs only the app's own Dockerfile.
  name           = "${var.name}-build"
  description    = "Builds the image of ${var.name} from an uploaded source"
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
    privileged_mode             = true

    environment_variable {
      name  = "REPOSITORY_URL"
      value = aws_ecr_repository.app.repository_url
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

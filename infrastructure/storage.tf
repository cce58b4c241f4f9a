# One bucket for everything AutoStack keeps: uploads/, reports/, bundles/, logs/,
# tfstate/, backups/ (key layout in docs/architecture.md).

resource "aws_s3_bucket" "main" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket and cost more than this whole bucket; CloudTrail data events can be turned on if an audit needs them.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage for a 10-user tool; versioning plus the daily backups cover accidental deletes.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) encrypts at rest; a customer-managed KMS key adds $1/month and a KMS call per request for no benefit here.
  #checkov:skip=CKV2_AWS_62:Nothing consumes S3 events: jobs arrive through SQS from the API, which checks each upload itself.
  bucket = local.bucket_name

  # Off: `terraform destroy` refuses a bucket with objects. Set true only to tear down.
  force_destroy = var.bucket_force_destroy
}

resource "aws_s3_bucket_ownership_controls" "main" {
  bucket = aws_s3_bucket.main.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "main" {
  bucket = aws_s3_bucket.main.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "main" {
  bucket = aws_s3_bucket.main.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "main" {
  bucket = aws_s3_bucket.main.id

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_iam_policy_document" "bucket" {
  # + CloudFront's read of dashboard/ (dashboard.tf)
  source_policy_documents = [data.aws_iam_policy_document.dashboard_read.json]

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.main.arn,
      "${aws_s3_bucket.main.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "main" {
  bucket = aws_s3_bucket.main.id
  policy = data.aws_iam_policy_document.bucket.json

  # A bucket policy is refused while the public access block is being created.
  depends_on = [aws_s3_bucket_public_access_block.main]
}

# Retention. The runner implements the exact rule for its snapshots
# (runner/backup.py: the newest snapshot of each of the 7 newest days, plus the
# newest of each of the 4 newest older ISO weeks; it deletes the rest after each
# snapshot), so the oldest snapshot it keeps is 28-29 days old when it snapshots
# daily (older after an outage, as it counts snapshot days). The max-age rule is
# only a backstop that bounds storage if the runner stops pruning. On this
# versioned bucket an expiry or a delete leaves a noncurrent version, removed
# after noncurrent_versions_expire_days.
resource "aws_s3_bucket_lifecycle_configuration" "main" {
  bucket = aws_s3_bucket.main.id

  rule {
    id     = "runner-snapshots-max-age"
    status = "Enabled"

    filter {
      prefix = "backups/runner/"
    }

    expiration {
      days = var.runner_backup_max_age_days
    }
  }

  rule {
    id     = "api-exports"
    status = "Enabled"

    filter {
      prefix = "backups/api/"
    }

    expiration {
      days = var.api_backups_expire_days
    }
  }

  rule {
    id     = "job-logs"
    status = "Enabled"

    filter {
      prefix = "logs/"
    }

    expiration {
      days = var.logs_expire_days
    }

    # Gone means gone: no month-long noncurrent copy of an expired archive or log.
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "saved-plans"
    status = "Enabled"

    filter {
      prefix = "plans/"
    }

    expiration {
      days = var.plans_expire_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "uploads"
    status = "Enabled"

    filter {
      prefix = "uploads/"
    }

    expiration {
      days = var.uploads_expire_days
    }

    # Gone means gone: no month-long noncurrent copy of an expired archive or log.
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "old-versions-and-incomplete-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_versions_expire_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Lifecycle rules on a versioned bucket need versioning to exist first.
  depends_on = [aws_s3_bucket_versioning.main]
}

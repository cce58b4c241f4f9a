# The runner's instance profile: exactly what the runner does, nothing more.
# The API's (Lambda's) permissions are in .chalice/policy-prod.json.

data "aws_iam_policy_document" "runner_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }

  # Terraform jobs: the runner takes a session of its own role narrowed by an inline
  # session policy (ec2-runner/runner/job_session.py): that stack's state and lock, the
  # user's role with the project's ExternalId. A role cannot name itself as principal
  # before it exists, hence the account with a condition on exactly this role.
  statement {
    sid     = "RunnerJobSessions"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.runner_role_arn]
    }
  }
}

resource "aws_iam_role" "runner" {
  name               = "${var.name_prefix}-runner"
  description        = "AutoStack runner instance role"
  assume_role_policy = data.aws_iam_policy_document.runner_assume.json
}

resource "aws_iam_instance_profile" "runner" {
  name = "${var.name_prefix}-runner"
  role = aws_iam_role.runner.name
}

locals {
  runner_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-runner"

  # Partition keys of the items the runner reads and writes (docs/architecture.md):
  # jobs, uploads and bundles live under PROJECT#<id>; the Terraform semaphore and
  # the runners' heartbeats have partitions of their own. Users, emails, refresh
  # tokens and rate windows stay out of the runner's reach.
  runner_table_partitions = ["PROJECT#*", "SEMAPHORE#*", "RUNNERS"]

  # S3 key prefixes and what the runner does under each. Terraform's S3 backend
  # lists the workspaces under its workspace_key_prefix at every init; the runner
  # sets it to "tfstate/workspaces" (ec2-runner/runner/terraform.py), inside tfstate/.
  runner_s3_read_prefixes       = ["uploads/", "bundles/", "releases/"]
  runner_s3_write_prefixes      = ["reports/", "logs/", "tfstate/", "plans/", "backups/runner/"]
  runner_s3_list_prefixes       = ["logs/", "tfstate/", "plans/", "backups/runner/"]
  runner_s3_delete_prefixes     = ["tfstate/", "plans/", "backups/runner/"]
  runner_s3_read_write_prefixes = distinct(concat(local.runner_s3_read_prefixes, local.runner_s3_write_prefixes))
}

data "aws_iam_policy_document" "runner" {
  # Receive, renew (heartbeat), delete; send: a deferred job goes back as a new message.
  statement {
    sid = "JobsQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
    ]
    resources = [aws_sqs_queue.jobs.arn]
  }

  # Idle stop (runner/chores.py IdleStop): is anything queued, visible, in flight or delayed?
  statement {
    sid       = "IdleCheckQueue"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.jobs.arn]
  }

  # ... then the runner stops its own instance (and only that one); the API starts it
  # again when it queues a job (.chalice/policy-prod.json, WakeTheRunner).
  statement {
    sid       = "StopItself"
    actions   = ["ec2:StopInstances"]
    resources = [aws_instance.runner.arn]
  }

  # The DLQ sweep fails the jobs of dead-lettered messages (and leaves them there).
  statement {
    sid = "DeadLetterSweep"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [aws_sqs_queue.jobs_dlq.arn]
  }

  statement {
    sid = "JobItems"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = [aws_dynamodb_table.main.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.runner_table_partitions
    }
  }

  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject"]
    resources = [for prefix in local.runner_s3_read_write_prefixes : "${aws_s3_bucket.main.arn}/${prefix}*"]
  }

  statement {
    sid       = "WriteObjects"
    actions   = ["s3:PutObject"]
    resources = [for prefix in local.runner_s3_write_prefixes : "${aws_s3_bucket.main.arn}/${prefix}*"]
  }

  statement {
    sid       = "DeleteObjects"
    actions   = ["s3:DeleteObject"]
    resources = [for prefix in local.runner_s3_delete_prefixes : "${aws_s3_bucket.main.arn}/${prefix}*"]
  }

  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.main.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for prefix in local.runner_s3_list_prefixes : "${prefix}*"]
    }
  }

  # Deployments: the generated provider assumes the user's role, always with the
  # project's ExternalId (a request without one is not allowed).
  statement {
    sid       = "AssumeUserRolesWithExternalId"
    actions   = ["sts:AssumeRole"]
    resources = [var.user_role_arn_pattern]

    condition {
      test     = "Null"
      variable = "sts:ExternalId"
      values   = ["false"]
    }
  }

  # ... and never a role of AutoStack's own account: a role there that trusts the
  # account root without checking an ExternalId would otherwise be the runner's for
  # the asking (a confused deputy). allow_own_account_roles narrows this to
  # AutoStack's own roles, for a team that deploys into the same account. Every
  # deployment's AssumeRole carries an ExternalId (a job session may assume nothing
  # else), so this also stops a job naming the runner's own role as its deploy role.
  statement {
    sid     = "NoRolesOfThisAccount"
    effect  = "Deny"
    actions = ["sts:AssumeRole"]
    resources = [
      var.allow_own_account_roles
      ? "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-*"
      : "arn:${local.partition}:iam::${local.account_id}:role/*"
    ]

    condition {
      test     = "Null"
      variable = "sts:ExternalId"
      values   = ["false"]
    }
  }

  # Terraform jobs run with a session of this role, without ExternalId, that the runner
  # always narrows with a session policy (runner/job_session.py): such a session can do
  # only what both this policy and its session policy allow (one stack's state and lock,
  # one deploy role with its ExternalId).
  statement {
    sid       = "JobSessionsOfItself"
    actions   = ["sts:AssumeRole"]
    resources = [local.runner_role_arn]

    condition {
      test     = "Null"
      variable = "sts:ExternalId"
      values   = ["true"]
    }
  }

  # The CloudWatch agent's metrics (the disk alarm); PutMetricData has no resource ARN.
  statement {
    sid       = "AgentMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["CWAgent"]
    }
  }

  # Session Manager and Run Command (shell access and in-place upgrades without SSH).
  # These actions have no resource ARNs. Unlike AmazonSSMManagedInstanceCore this
  # grants no ssm:GetParameter, so the runner cannot read the JWT signing key.
  statement {
    sid = "SessionManager"
    actions = [
      "ssm:UpdateInstanceInformation",
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
      "ec2messages:AcknowledgeMessage",
      "ec2messages:DeleteMessage",
      "ec2messages:FailMessage",
      "ec2messages:GetEndpoint",
      "ec2messages:GetMessages",
      "ec2messages:SendReply",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "runner" {
  name   = "${var.name_prefix}-runner"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}

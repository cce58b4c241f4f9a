variable "region" {
  type        = string
  description = "AWS region for every resource of AutoStack (prices in docs/deploy.md are us-east-1)."
  default     = "us-east-1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of resource names that need no fixed name (instance, roles, alarms, SNS topic)."
  default     = "autostack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags put on every resource (the provider's default_tags)."
  default     = {}
}

variable "table_name" {
  type        = string
  description = "DynamoDB table name; the API and the runner read it from AUTOSTACK_TABLE."
  default     = "autostack"
}

variable "table_billing_mode" {
  type        = string
  description = "DynamoDB capacity: PROVISIONED at the always-free units (table_read_capacity / table_write_capacity), or PAY_PER_REQUEST (on demand, $1.25 per million writes)."
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "PAY_PER_REQUEST"], var.table_billing_mode)
    error_message = "table_billing_mode must be PROVISIONED or PAY_PER_REQUEST."
  }
}

variable "table_read_capacity" {
  type        = number
  description = "Provisioned read capacity units (25 are always free per account and region, shared by every table)."
  default     = 25

  validation {
    condition     = var.table_read_capacity >= 1 && var.table_read_capacity <= 40000
    error_message = "table_read_capacity must be between 1 and 40000."
  }
}

variable "table_write_capacity" {
  type        = number
  description = "Provisioned write capacity units (25 are always free per account and region, shared by every table)."
  default     = 25

  validation {
    condition     = var.table_write_capacity >= 1 && var.table_write_capacity <= 40000
    error_message = "table_write_capacity must be between 1 and 40000."
  }
}

variable "table_deletion_protection" {
  type        = bool
  description = "DynamoDB deletion protection; set false (and apply) before tearing AutoStack down."
  default     = true
}

variable "bucket_name" {
  type        = string
  description = "S3 bucket name. Null picks '<name_prefix>-<account id>-<region>', unique across AWS."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)."
  }
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the bucket with every object version in it (uploads, states, backups). Only for tearing down."
  default     = false
}

variable "queue_name" {
  type        = string
  description = "SQS jobs queue name; its dead-letter queue is '<queue_name>-dlq'."
  default     = "autostack-jobs"
}

variable "jwt_key_param_name" {
  type        = string
  description = "SSM parameter (SecureString) holding the API's JWT signing key."
  default     = "/autostack/jwt-signing-key"

  validation {
    condition     = startswith(var.jwt_key_param_name, "/")
    error_message = "jwt_key_param_name must be a path starting with '/'."
  }
}

variable "jwt_key_version" {
  type        = number
  description = "Version of the write-only JWT signing key: increase it by one to rotate the key (every session ends)."
  default     = 1
}

variable "queue_visibility_timeout_seconds" {
  type        = number
  description = "Jobs queue visibility timeout. The runner renews it every AUTOSTACK_RUNNER_HEARTBEAT_S (30 s) while a job runs, so a dead runner's job comes back within this time."
  default     = 120

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 60 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 60 and 43200 (it must stay well above the runner's 30 s heartbeat)."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a job message before it moves to the dead-letter queue."
  default     = 3
}

variable "runner_instance_type" {
  type        = string
  description = "Instance type of the runner (the design's budget is one t3.micro)."
  default     = "t3.micro"
}

variable "runner_root_volume_gb" {
  type        = number
  description = "Size of the runner's encrypted gp3 root volume: OS, swap file, venv, Terraform provider cache, workspaces."
  default     = 12

  validation {
    condition     = var.runner_root_volume_gb >= 8 && var.runner_root_volume_gb <= 200
    error_message = "runner_root_volume_gb must be between 8 and 200."
  }
}

variable "runner_swap_mb" {
  type        = number
  description = "Swap file size on the runner in MiB (Terraform's AWS provider needs more than the t3.micro's 1 GiB)."
  default     = 2048

  validation {
    condition     = var.runner_swap_mb >= 0 && var.runner_swap_mb <= 8192
    error_message = "runner_swap_mb must be between 0 (no swap) and 8192."
  }
}

variable "runner_release_url" {
  type        = string
  description = "The AutoStack release tarball the runner installs: an https:// URL anyone can download (e.g. https://github.com/OWNER/autostack/archive/refs/tags/v0.1.0.tar.gz), or s3://<the bucket>/releases/<file> for a private repository."

  validation {
    condition     = can(regex("^(https://|s3://[a-z0-9.-]+/releases/)", var.runner_release_url))
    error_message = "runner_release_url must be an https:// URL or s3://<bucket>/releases/<file>."
  }
}

variable "runner_release_sha256" {
  type        = string
  description = "SHA-256 of the release tarball; cloud-init refuses a download that does not match. Empty skips the check (not recommended)."
  default     = ""

  validation {
    condition     = var.runner_release_sha256 == "" || can(regex("^[0-9a-f]{64}$", var.runner_release_sha256))
    error_message = "runner_release_sha256 must be 64 lower-case hex digits or empty."
  }
}

variable "runner_ami_parameter" {
  type        = string
  description = "Public SSM parameter that names the current Amazon Linux 2023 AMI."
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the small VPC the runner lives in (one public subnet, no NAT gateway)."
  default     = "10.42.0.0/24"
}

variable "ssh_cidr" {
  type        = string
  description = "If set, a CIDR allowed to reach the runner on port 22. Null (the default) leaves no inbound rule: use SSM Session Manager."
  default     = null

  validation {
    condition     = var.ssh_cidr == null || (can(cidrhost(var.ssh_cidr, 0)) && !strcontains(coalesce(var.ssh_cidr, "-"), ":"))
    error_message = "ssh_cidr must be an IPv4 CIDR block such as 203.0.113.7/32, or null."
  }
}

variable "user_role_arn_pattern" {
  type        = string
  description = "IAM role ARNs in users' accounts the runner may assume (always with the project's ExternalId)."
  default     = "arn:aws:iam::*:role/*"
}

variable "allow_own_account_roles" {
  type        = bool
  description = "Let the runner assume deployment roles in AutoStack's own account (a team deploying into the same account). Only safe when no role there trusts the account root without an sts:ExternalId condition."
  default     = false
}

variable "alarm_email" {
  type        = string
  description = "Email address subscribed to the alarms topic (AWS sends a confirmation mail first)."

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address."
  }
}

variable "api_name" {
  type        = string
  description = "Name of the API Gateway REST API that `chalice deploy` creates (the Chalice app_name); unused once the HTTP API (api.tf) serves the API."
  default     = "autostack"
}

variable "api_stage_name" {
  type        = string
  description = "API Gateway stage name of the Chalice API (Chalice's api_gateway_stage, 'api' by default)."
  default     = "api"
}

variable "api_http_function_name" {
  type        = string
  description = "The Lambda `chalice deploy --stage prod` creates for the API (<app_name>-<stage>): the HTTP API (api.tf) invokes it."
  default     = "autostack-prod"
}

variable "api_throttling_rate_limit" {
  type        = number
  description = "Steady requests a second the HTTP API lets through (above it: 429). The seed load is 0.3 a second; a page load makes a few calls at once."
  default     = 20
}

variable "api_throttling_burst_limit" {
  type        = number
  description = "Requests the HTTP API lets through at once above the steady rate (token bucket)."
  default     = 40
}

variable "api_function_names" {
  type        = list(string)
  description = "Lambda functions `chalice deploy --stage prod` creates (<app_name>-<stage>[-<function>]): their log groups get a retention."
  default     = ["autostack-prod", "autostack-prod-daily_backup"]
}

variable "api_log_retention_days" {
  type        = number
  description = "Days the API's Lambda logs are kept."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.api_log_retention_days)
    error_message = "api_log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "xray_sampling_rate" {
  type        = number
  description = "Share of API requests X-Ray traces (API Gateway decides; Lambda follows). The default rule would trace nearly every request at this traffic (1 a second + 5%)."
  default     = 0.05

  validation {
    condition     = var.xray_sampling_rate >= 0 && var.xray_sampling_rate <= 1
    error_message = "xray_sampling_rate must be between 0 and 1."
  }
}

variable "api_p95_latency_threshold_ms" {
  type        = number
  description = "Alarm when the API's p95 latency stays above this many milliseconds for 5 minutes."
  default     = 2000
}

variable "cpu_alarm_threshold_percent" {
  type        = number
  description = "Alarm when the runner's average CPU stays above this for 5 minutes."
  default     = 80
}

variable "disk_alarm_threshold_percent" {
  type        = number
  description = "Alarm when the runner's root file system is fuller than this (CloudWatch agent metric)."
  default     = 80
}

variable "jobs_stalled_alarm_minutes" {
  type        = number
  description = "Alarm when the oldest job message is older than this: no runner is consuming the queue. Keep it above the longest Terraform command (AUTOSTACK_TERRAFORM_TIMEOUT_S, 60 min)."
  default     = 60
}

variable "uploads_expire_days" {
  type        = number
  description = "Days an uploaded archive (uploads/) is kept."
  default     = 30
}

variable "logs_expire_days" {
  type        = number
  description = "Days job logs (logs/) are kept."
  default     = 90
}

variable "api_backups_expire_days" {
  type        = number
  description = "Days the API's daily table exports (backups/api/) are kept."
  default     = 35
}

variable "runner_backup_max_age_days" {
  type        = number
  description = "Backstop on the age of any runner snapshot. The runner's own retention keeps 7 daily and 4 weekly ones (29 days old at most when it snapshots every day, older after an outage); this only bounds storage if it stops pruning."
  default     = 60
}

variable "plans_expire_days" {
  type        = number
  description = "Days a saved Terraform plan (plans/) may stay; the runner deletes it once applied and refuses stale ones anyway."
  default     = 7
}

variable "noncurrent_versions_expire_days" {
  type        = number
  description = "Days an overwritten or deleted object version (versioning) is kept, e.g. old Terraform states."
  default     = 30
}

variable "dashboard_price_class" {
  type        = string
  description = "CloudFront price class of the dashboard: PriceClass_100 (North America, Europe) is the cheapest."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.dashboard_price_class)
    error_message = "dashboard_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

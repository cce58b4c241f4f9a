variable "name" {
  type        = string
  description = "Name prefix of every resource (lower-case letters, digits and hyphens)."
  default     = "web"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region to deploy into."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "role_arn" {
  type        = string
  description = "ARN of the IAM role in your account that Terraform assumes to deploy."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.role_arn))
    error_message = "role_arn must be an IAM role ARN."
  }
}

variable "external_id" {
  type        = string
  description = "External ID the role's trust policy requires (AutoStack generates one per project)."
  sensitive   = true
}

variable "image_tag" {
  type        = string
  description = "Tag of the app's image in ECR to run (CI passes the commit SHA)."
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a Docker tag: letters, digits, '_', '.', '-'."
  }
}

variable "app_environment" {
  type        = map(string)
  description = "Plain (non-secret) environment variables of the app; secrets go to SSM Parameter Store. Variables the app reads with a fallback of its own are left out (unset)."
  default     = {}
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the app's CloudWatch logs."
  default     = 14
}

variable "build_source_retention_days" {
  type        = number
  description = "Days to keep each uploaded build source in the build-source bucket."
  default     = 7
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type; the AMI and image are x86_64."
  default     = "t3.micro"

  validation {
    # Graviton (arm64) types have a "g" after the generation digit: t4g, m7gd.
    condition     = can(regex("^[a-z]+[0-9]+[a-fh-z-]*\\.", var.instance_type))
    error_message = "instance_type must be an x86_64 (e.g. t3) type: the AMI and the image are built for it."
  }
}

variable "root_volume_gb" {
  type        = number
  description = "Size of the encrypted gp3 root volume in GB."
  default     = 20
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.t4g.micro"
}

variable "db_storage_gb" {
  type        = number
  description = "Allocated database storage in GB."
  default     = 20
}

variable "cache_node_type" {
  type        = string
  description = "ElastiCache node type."
  default     = "cache.t4g.micro"
}

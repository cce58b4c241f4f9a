variable "name" {
  type        = string
  description = "Name prefix of every resource (lower-case letters, digits and hyphens)."
  default     = "landing"

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
  description = "The release the site serves: CloudFront reads releases/<image_tag>/ of the site bucket (an AutoStack deploy sets it). Empty: the bucket's root, where CI uploads."
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$", var.image_tag))
    error_message = "image_tag must be empty or letters, digits, '_', '.', '-'."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the site build's CloudWatch logs."
  default     = 14
}

variable "build_source_retention_days" {
  type        = number
  description = "Days to keep each uploaded build source in the build-source bucket."
  default     = 7
}

variable "role_arn" { type = string }
variable "external_id" { type = string }
variable "region" {
  type    = string
  default = "eu-west-1"
}
variable "environment" {
  type = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod"
  }
  default = "dev"
}
variable "instance_count" {
  type    = number
  default = 2
}
variable "ingress" {
  type = map(object({ port = number, cidrs = list(string) }))
  default = {
    http  = { port = 80, cidrs = ["0.0.0.0/0"] }
    https = { port = 443, cidrs = ["0.0.0.0/0"] }
  }
}
variable "extra_tags" {
  type    = map(string)
  default = {}
}

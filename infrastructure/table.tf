# One table for users, projects, jobs, limits and rate windows (key design in
# docs/architecture.md). On demand: a 10-user team never pays for idle capacity.
resource "aws_dynamodb_table" "main" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-owned key; a customer-managed KMS key adds $1/month and KMS calls on every request for no benefit at this size.
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # Protects the users' data from a stray `terraform destroy`; docs/deploy.md says how to tear down.
  deletion_protection_enabled = var.table_deletion_protection
}

# A small VPC of AutoStack's own: one public subnet for the runner, no NAT
# gateway ($33/month). The runner has no inbound rule; it reaches AWS APIs, the
# release URL and the Terraform registry outbound over HTTPS. S3 and DynamoDB
# traffic stays on free gateway endpoints.

data "aws_ec2_instance_type_offerings" "runner" {
  location_type = "availability-zone"

  filter {
    name   = "instance-type"
    values = [var.runner_instance_type]
  }
}

locals {
  # Not every zone offers every instance type; pick the first one that does.
  runner_az = sort(data.aws_ec2_instance_type_offerings.runner.locations)[0]
}

resource "aws_vpc" "main" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs cost CloudWatch ingestion for a VPC that holds one instance with no inbound rule; turn them on for an investigation.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

# The VPC's default security group, emptied: nothing may use it by accident.
resource "aws_default_security_group" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${var.name_prefix}-igw"
  }
}

resource "aws_subnet" "runner" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 1, 0)
  availability_zone       = local.runner_az
  map_public_ip_on_launch = false # the instance asks for its address itself

  tags = {
    Name = "${var.name_prefix}-runner"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = {
    Name = "${var.name_prefix}-public"
  }
}

resource "aws_route_table_association" "runner" {
  subnet_id      = aws_subnet.runner.id
  route_table_id = aws_route_table.public.id
}

resource "aws_vpc_endpoint" "gateway" {
  for_each = toset(["s3", "dynamodb"])

  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.public.id]

  tags = {
    Name = "${var.name_prefix}-${each.key}"
  }
}

resource "aws_security_group" "runner" {
  name        = "${var.name_prefix}-runner"
  description = "AutoStack runner: HTTPS out only; SSH in only when ssh_cidr is set"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${var.name_prefix}-runner"
  }
}

resource "aws_vpc_security_group_egress_rule" "runner_https" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS to AWS APIs, the release URL, package and Terraform registries"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "runner_ssh" {
  count = var.ssh_cidr == null ? 0 : 1

  security_group_id = aws_security_group.runner.id
  description       = "SSH from the operator's network (ssh_cidr); Session Manager needs no inbound rule"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = var.ssh_cidr
}

terraform {
  required_providers {
    aws     = { source = "hashicorp/aws" }
    archive = { source = "hashicorp/archive" }
  }
}

variable "name" { type = string }
variable "subnets" { type = list(string) }
variable "ports" { type = map(number) }
variable "instances" { type = number }

data "aws_ami" "al2023" {
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = ["al2023-ami-*-x86_64"]
  }
}

resource "aws_security_group" "web" {
  name = "${var.name}-web"
  dynamic "ingress" {
    for_each = var.ports
    iterator = rule
    content {
      from_port   = rule.value
      to_port     = rule.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
      description = "port ${rule.key}"
    }
  }
}

resource "aws_instance" "web" {
  for_each      = { for i in range(var.instances) : "web-${i}" => i }
  ami           = data.aws_ami.al2023.id
  instance_type = each.value == 0 ? "t3.small" : "t3.micro"
  subnet_id     = element(var.subnets, each.value)
  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    name  = var.name
    index = each.value
    ports = values(var.ports)
  })
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = each.key }
}

data "archive_file" "handler" {
  type        = "zip"
  source_dir  = "${path.module}/files"
  output_path = "${path.module}/handler.zip"
}

resource "aws_lambda_function" "handler" {
  function_name    = "${var.name}-handler"
  role             = "arn:aws:iam::123456789012:role/x"
  handler          = "index.handler"
  runtime          = "nodejs20.x"
  filename         = data.archive_file.handler.output_path
  source_code_hash = data.archive_file.handler.output_base64sha256
  environment {
    variables = {
      BANNER = file("${path.module}/files/banner.txt")
      SHAS   = join(",", [for f in fileset("${path.module}/files", "*.txt") : filesha256("${path.module}/files/${f}")])
    }
  }
}

resource "aws_iam_policy" "read" {
  name = "${var.name}-read"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::${var.name}/*"]
    }]
  })
}

output "dns" {
  value = one([for k, v in aws_instance.web : v.public_dns if k == "web-0"])
}

data "aws_ssm_parameter" "ami" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

# Session Manager replaces SSH: no key pair, no port 22.
resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "ecr_read" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
}

data "aws_iam_policy_document" "instance_logs" {
  statement {
    sid       = "WriteAppLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }
}

resource "aws_iam_role_policy" "instance_logs" {
  name   = "app-logs"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance_logs.json
}

resource "aws_iam_role_policy" "app_access" {
  name   = "app-access"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.app_access.json
}

resource "aws_iam_role_policy" "app_config" {
  # Only with a path: an empty one would name every parameter.
  count = length(compact([var.app_config_path]))

  name   = "read-app-config"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.app_config_read.json
}

resource "aws_iam_instance_profile" "app" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_338:Logs are kept var.log_retention_days (default 14) to keep storage cheap.
  name              = "/autostack/${var.name}"
  retention_in_days = var.log_retention_days
}

# What the deploy script on the instance runs; read at every deploy, so changes need no new instance.
resource "aws_ssm_parameter" "runtime_config" {
  #checkov:skip=CKV_AWS_337:Holds no secret (secrets are separate SecureString parameters).
  #checkov:skip=CKV2_AWS_34:Holds no secret, so it is a String parameter.
  name        = "/${var.name}/autostack/runtime-config"
  description = "Container settings of ${var.name} read by /usr/local/bin/app-deploy"
  type        = "String"
  tier        = "Intelligent-Tiering"
  value = jsonencode({
    region         = var.region
    repository_url = aws_ecr_repository.app.repository_url
    log_group      = aws_cloudwatch_log_group.app.name
    port           = 3000
    environment    = local.app_environment
    # The app's config set through AutoStack: read by path at every deploy ("": none).
    config_path = var.app_config_path
    secrets     = local.secret_parameter_names
    # Read when set; an unset optional secret leaves its feature off.
    optional_secrets = local.optional_secret_parameters
    release          = []
    password_env     = ["DB_PASSWORD"]
    database_urls    = { "DATABASE_URL" = "postgresql://{user}:{password}@{host}:{port}/{db}?sslmode=require" }
    db_secret_arn    = aws_db_instance.main.master_user_secret[0].secret_arn
    db_engine        = "postgres"
    workers = [
      { name = "celery", command = "celery -A api worker", app = "api" },
    ]
    # The monorepo's other apps: own image each; web ones answer under /<name>/ through Caddy.
    companions = [
      { name = "api", repository_url = aws_ecr_repository.companion["api"].repository_url, port = 8000, routed = true },
      { name = "jobs", repository_url = aws_ecr_repository.companion["jobs"].repository_url, port = 8000, routed = false },
      { name = "admin", repository_url = aws_ecr_repository.companion["admin"].repository_url, port = 8080, routed = true },
    ]
  })
}

# Only zones that offer the instance type can hold it (not every zone has every type).
data "aws_ec2_instance_type_offerings" "app" {
  location_type = "availability-zone"

  filter {
    name   = "instance-type"
    values = [var.instance_type]
  }
}

data "aws_subnets" "placement" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }

  filter {
    name   = "availability-zone"
    values = data.aws_ec2_instance_type_offerings.app.locations
  }
}

resource "aws_instance" "app" {
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs about $2/month; 5-minute metrics suffice.
  #checkov:skip=CKV_AWS_88:The app is served from the instance itself (no load balancer, for cost); the security group opens only 80 and 443.
  ami                    = data.aws_ssm_parameter.ami.value
  instance_type          = var.instance_type
  subnet_id              = sort(data.aws_subnets.placement.ids)[0]
  vpc_security_group_ids = [aws_security_group.app.id]
  iam_instance_profile   = aws_iam_instance_profile.app.name
  ebs_optimized          = true
  monitoring             = false
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    config_parameter = aws_ssm_parameter.runtime_config.name
    region           = var.region
    image_tag        = var.image_tag
  })

  # IMDSv2 only; hop limit 2 lets the app's container use the instance role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_gb
    encrypted             = true
    delete_on_termination = true
  }

  lifecycle {
    # A newer AMI must not replace the instance (and its data) on the next apply.
    ignore_changes = [ami, user_data]
  }
}

resource "aws_eip" "app" {
  domain   = "vpc"
  instance = aws_instance.app.id
}

# The runner: one t3.micro on Amazon Linux 2023 running ec2-runner/ as a systemd
# service (ec2-runner/systemd/autostack-runner.service), installed by cloud-init
# from a release tarball on the first boot only (later boots just start the unit).
# runner.db lives in /var/lib/autostack (the unit's StateDirectory) on the root
# volume, so service restarts, reboots and stops keep it; a replaced instance
# restores it from the newest snapshot in S3 on first boot.
#
# Asleep when idle: the runner stops its own instance after
# AUTOSTACK_RUNNER_IDLE_STOP_S (default 180 s) with no job running or queued
# (StopInstances, iam.tf StopItself); the API starts it when it queues a job
# (chalicelib/services/runner_wake.py, allowed by the autostack:role tag below).
# Stopped, it bills only its volume: the public IPv4 is released with the stop.

data "aws_ssm_parameter" "al2023_ami" {
  name = var.runner_ami_parameter
}

locals {
  runner_disk_path = "/"

  runner_env = {
    AUTOSTACK_STAGE               = "prod"
    AUTOSTACK_TABLE               = aws_dynamodb_table.main.name
    AUTOSTACK_BUCKET              = aws_s3_bucket.main.id
    AUTOSTACK_QUEUE_URL           = aws_sqs_queue.jobs.url
    AUTOSTACK_DLQ_URL             = aws_sqs_queue.jobs_dlq.url
    AUTOSTACK_JWT_KEY_PARAM       = aws_ssm_parameter.jwt_signing_key.name
    AUTOSTACK_RUNNER_VISIBILITY_S = tostring(var.queue_visibility_timeout_seconds)
    AUTOSTACK_MAX_RECEIVE_COUNT   = tostring(var.max_receive_count)
    AUTOSTACK_RUNNER_DB           = "/var/lib/autostack/runner.db"
    AUTOSTACK_RUNNER_WORK_DIR     = "/var/lib/autostack/work"
    # Terraform jobs run with scoped sessions of the runner's own role (iam.tf).
    AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN = aws_iam_role.runner.arn
    AUTOSTACK_RELEASE_EXECUTOR           = "aws" # generated bundles ship their app (runner/shipping/aws_*.py)
    AWS_REGION                           = var.region
    AWS_DEFAULT_REGION                   = var.region
  }

  # Every value templates/cloud-init.yaml.tftpl uses (tests render it with the same keys).
  cloud_init_vars = {
    runner_env_file   = join("", [for key in sort(keys(local.runner_env)) : "${key}=${local.runner_env[key]}\n"])
    release_url       = var.runner_release_url
    release_sha256    = var.runner_release_sha256
    swap_bytes        = var.runner_swap_mb * 1024 * 1024
    cwagent_config    = jsonencode(local.cwagent_config)
    unit_name         = "autostack-runner.service"
    runner_user       = "autostack"
    python_executable = "python3.11"
  }

  # CloudWatch agent: root disk and memory use every minute, keyed by instance id
  # (the disk alarm in alarms.tf asks for exactly these dimensions).
  cwagent_config = {
    agent = {
      metrics_collection_interval = 60
      run_as_user                 = "cwagent"
    }
    metrics = {
      namespace = "CWAgent"
      append_dimensions = {
        InstanceId = "$${aws:InstanceId}"
      }
      metrics_collected = {
        disk = {
          measurement = ["used_percent"]
          resources   = [local.runner_disk_path]
          drop_device = true
        }
        mem = {
          measurement = ["mem_used_percent"]
        }
      }
    }
  }
}

resource "aws_instance" "runner" {
  #checkov:skip=CKV_AWS_88:An auto-assigned public IPv4 address (billed only while the instance runs, released when it stops) is the cheap way out to AWS APIs; a NAT gateway costs $33/month, interface endpoints $7/month each. The security group has no inbound rule.
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs about $2/month; the CPU alarm uses the free 5-minute metrics.
  ami                         = nonsensitive(data.aws_ssm_parameter.al2023_ami.value)
  instance_type               = var.runner_instance_type
  subnet_id                   = aws_subnet.runner.id
  vpc_security_group_ids      = [aws_security_group.runner.id]
  associate_public_ip_address = true
  iam_instance_profile        = aws_iam_instance_profile.runner.name
  ebs_optimized               = true
  # StopInstances from the idle runner, or an OS shutdown, stops (never terminates) it.
  instance_initiated_shutdown_behavior = "stop"
  user_data                            = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", local.cloud_init_vars)

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.runner_root_volume_gb
    encrypted             = true
    delete_on_termination = true
  }

  # Standard credits: a busy day runs slower instead of billing surplus credits.
  credit_specification {
    cpu_credits = "standard"
  }

  maintenance_options {
    auto_recovery = "default"
  }

  tags = {
    Name = "${var.name_prefix}-runner"
    # The API may start instances with this tag only (.chalice/policy-prod.json).
    "autostack:role" = "runner"
  }

  lifecycle {
    # A new AMI or release must not replace the instance behind the operator's
    # back: upgrades run in place (docs/deploy.md), replacement is explicit
    # (terraform apply -replace=aws_instance.runner).
    ignore_changes = [ami, user_data]
  }
}

# Alarms for the original design's migration triggers, to one SNS topic with an
# email subscription. Together with the CloudWatch agent's two custom metrics
# they stay inside CloudWatch's always-free 10 alarms and 10 metrics.

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, and a customer-managed key costs $1/month; the messages are alarm notices, not data.
  name = "${var.name_prefix}-alarms"
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarms_email" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "runner_cpu" {
  alarm_name          = "${var.name_prefix}-runner-cpu-high"
  alarm_description   = "Runner CPU above ${var.cpu_alarm_threshold_percent}% for 5 minutes: the single t3.micro is the bottleneck (migration trigger)."
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  dimensions          = { InstanceId = aws_instance.runner.id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.cpu_alarm_threshold_percent
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "runner_disk" {
  alarm_name          = "${var.name_prefix}-runner-disk-full"
  alarm_description   = "Runner root file system above ${var.disk_alarm_threshold_percent}% (CloudWatch agent): workspaces, provider cache or runner.db growing."
  namespace           = "CWAgent"
  metric_name         = "disk_used_percent"
  dimensions          = { InstanceId = aws_instance.runner.id, path = local.runner_disk_path, fstype = "xfs" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.disk_alarm_threshold_percent
  treat_missing_data  = "breaching" # no data means the agent or the instance is down
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p95" {
  alarm_name        = "${var.name_prefix}-api-latency-p95"
  alarm_description = "API p95 latency above ${var.api_p95_latency_threshold_ms} ms for 5 minutes (HTTP API ${aws_apigatewayv2_api.http.name}, stage ${var.api_stage_name})."
  namespace         = "AWS/ApiGateway"
  metric_name       = "Latency"
  # HTTP APIs publish by ApiId and Stage (a REST API's metrics are by ApiName).
  dimensions          = { ApiId = aws_apigatewayv2_api.http.id, Stage = aws_apigatewayv2_stage.api.name }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_p95_latency_threshold_ms
  treat_missing_data  = "notBreaching" # no requests, no latency problem
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${var.name_prefix}-jobs-dlq-not-empty"
  alarm_description   = "A job message reached the dead-letter queue after ${var.max_receive_count} receives: a job kept failing or a runner kept dying."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.jobs_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Not one of the original triggers: the oldest job message waiting over an hour means
# no runner is consuming the queue (stopped, crash-looping, or stuck). A running
# job's own message counts too, hence an hour: longer than any Terraform command.
resource "aws_cloudwatch_metric_alarm" "jobs_stalled" {
  alarm_name          = "${var.name_prefix}-jobs-queue-stalled"
  alarm_description   = "A job has waited in the queue for over ${var.jobs_stalled_alarm_minutes} minutes: is the runner running?"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.jobs.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.jobs_stalled_alarm_minutes * 60
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

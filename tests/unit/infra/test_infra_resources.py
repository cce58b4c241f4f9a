"""The settings of each AWS resource in infrastructure/ (parsed HCL), checked against
the design: bucket, queues, table, signing key, runner instance, IAM and alarms."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.backup import DAILY_KEPT, WEEKLY_KEPT, Snapshot, retention_plan, snapshot_key
from runner.settings import RunnerSettings
from runner.terraform import WORKSPACE_KEY_PREFIX
from tests.unit.infra.infra_support import REPO_ROOT, load_hcl, single


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_hcl()


def _resource(config: dict[str, Any], rtype: str, name: str = "main") -> dict[str, Any]:
    return config["resource"][rtype][name]


def _default(config: dict[str, Any], expression: str) -> Any:
    """The default of a variable that an attribute is set to ("${var.x}")."""
    match = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", str(expression))
    assert match, f"expected a plain variable reference, got {expression!r}"
    return config["variable"][match.group(1)]["default"]


# --- S3 ---------------------------------------------------------------------------------


def test_bucket_is_encrypted_versioned_private_and_tls_only(config: dict[str, Any]) -> None:
    sse = single(_resource(config, "aws_s3_bucket_server_side_encryption_configuration")["rule"])
    assert single(sse["apply_server_side_encryption_by_default"])["sse_algorithm"] == "AES256"
    versioning = _resource(config, "aws_s3_bucket_versioning")
    assert single(versioning["versioning_configuration"])["status"] == "Enabled"
    block = _resource(config, "aws_s3_bucket_public_access_block")
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[flag] is True
    ownership = _resource(config, "aws_s3_bucket_ownership_controls")
    assert single(ownership["rule"])["object_ownership"] == "BucketOwnerEnforced"
    policy = config["data"]["aws_iam_policy_document"]["bucket"]
    statement = single(policy["statement"])
    assert statement["effect"] == "Deny"
    assert statement["actions"] == ["s3:*"]
    condition = single(statement["condition"])
    assert (condition["variable"], condition["values"]) == ("aws:SecureTransport", ["false"])
    assert _resource(config, "aws_s3_bucket_policy")["policy"] == (
        "${data.aws_iam_policy_document.bucket.json}"
    )


def _lifecycle_rules(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = _resource(config, "aws_s3_bucket_lifecycle_configuration")["rule"]
    return {rule["id"]: rule for rule in rules}


def _oldest_snapshot_the_runner_keeps_days() -> float:
    """Simulate 120 days of daily snapshots (at 23:59) for every weekday the retention
    can run on; return the age of the oldest snapshot the runner keeps."""
    oldest = 0.0
    for start in range(7):
        now = datetime(2026, 11, 2, 0, 1, tzinfo=UTC) + timedelta(days=start)
        snapshots = [
            Snapshot(
                snapshot_key(now - timedelta(days=d, minutes=2)), now - timedelta(days=d, minutes=2)
            )
            for d in range(120)
        ]
        kept, deleted = retention_plan(snapshots)
        assert len(kept) == DAILY_KEPT + WEEKLY_KEPT and deleted
        oldest = max(oldest, max((now - s.taken_at).total_seconds() / 86400 for s in kept))
    return oldest


def test_lifecycle_keeps_runner_snapshots_bounded_and_expires_logs_and_uploads(
    config: dict[str, Any],
) -> None:
    rules = _lifecycle_rules(config)
    assert all(rule["status"] == "Enabled" for rule in rules.values())

    def expiry_days(rule_id: str) -> int:
        return _default(config, single(rules[rule_id]["expiration"])["days"])

    # The runner's own retention (runner/backup.py) decides which snapshots stay; the
    # bucket's max-age rule must never remove one it keeps, even a day or two late.
    max_age = expiry_days("runner-snapshots-max-age")
    assert single(rules["runner-snapshots-max-age"]["filter"]) == {"prefix": "backups/runner/"}
    assert max_age >= _oldest_snapshot_the_runner_keeps_days() + 3

    for rule_id, prefix in (
        ("api-exports", "backups/api/"),
        ("job-logs", "logs/"),
        ("uploads", "uploads/"),
        ("saved-plans", "plans/"),
    ):
        assert single(rules[rule_id]["filter"]) == {"prefix": prefix}
        assert 1 <= expiry_days(rule_id) <= 400
    for rule_id in (
        "job-logs",
        "uploads",
        "saved-plans",
    ):  # expired means gone, not a noncurrent copy
        assert single(rules[rule_id]["noncurrent_version_expiration"])["noncurrent_days"] == 1

    cleanup = rules["old-versions-and-incomplete-uploads"]
    assert single(cleanup["filter"]) == {}
    assert single(cleanup["abort_incomplete_multipart_upload"])["days_after_initiation"] == 1
    noncurrent = single(cleanup["noncurrent_version_expiration"])["noncurrent_days"]
    assert _default(config, noncurrent) >= 1
    markers = rules["expired-delete-markers"]
    assert single(markers["expiration"]) == {"expired_object_delete_marker": True}

    # Nothing AutoStack must keep (tfstate/, reports/, bundles/) has an expiring rule.
    prefixes = [
        single(rule["filter"]).get("prefix", "")
        for rule in rules.values()
        if "expiration" in rule and "days" in single(rule["expiration"])
    ]
    assert not any(p.startswith(("tfstate/", "reports/", "bundles/")) for p in prefixes)


# --- SQS --------------------------------------------------------------------------------


def test_jobs_queue_long_polls_is_encrypted_and_dead_letters_after_three_receives(
    config: dict[str, Any],
) -> None:
    jobs = _resource(config, "aws_sqs_queue", "jobs")
    dlq = _resource(config, "aws_sqs_queue", "jobs_dlq")
    assert jobs["receive_wait_time_seconds"] == 20
    assert jobs["sqs_managed_sse_enabled"] is True
    assert dlq["sqs_managed_sse_enabled"] is True
    assert jobs["name"] == "${var.queue_name}"
    assert dlq["name"] == "${var.queue_name}-dlq"
    redrive = jobs["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.jobs_dlq.arn" in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive
    assert config["variable"]["max_receive_count"]["default"] == 3
    assert dlq["message_retention_seconds"] > jobs["message_retention_seconds"]


def test_visibility_timeout_fits_the_runners_heartbeat(config: dict[str, Any]) -> None:
    jobs = _resource(config, "aws_sqs_queue", "jobs")
    visibility = _default(config, jobs["visibility_timeout_seconds"])
    runner = RunnerSettings(stage="prod", table="t", bucket="b", queue_url="q", dlq_url="d")
    # Renewed every heartbeat: three heartbeats may be missed before the message reappears.
    assert visibility >= 3 * runner.heartbeat_interval_s
    assert visibility == runner.visibility_timeout_s
    # The runner is told the same figure through its environment (runner.env).
    env = config["locals"]["runner_env"]
    assert env["AUTOSTACK_RUNNER_VISIBILITY_S"] == (
        "${tostring(var.queue_visibility_timeout_seconds)}"
    )
    assert env["AUTOSTACK_MAX_RECEIVE_COUNT"] == "${tostring(var.max_receive_count)}"


# --- DynamoDB, SSM ----------------------------------------------------------------------


def test_table_has_string_keys_ttl_and_pitr(config: dict[str, Any]) -> None:
    table = _resource(config, "aws_dynamodb_table")
    assert table["billing_mode"] == "${var.table_billing_mode}"  # test_infra_http_api.py
    assert (table["hash_key"], table["range_key"]) == ("pk", "sk")
    assert {a["name"]: a["type"] for a in table["attribute"]} == {"pk": "S", "sk": "S"}
    assert single(table["ttl"]) == {"attribute_name": "expires_at", "enabled": True}
    assert single(table["point_in_time_recovery"]) == {"enabled": True}


def test_jwt_key_is_a_write_only_secure_string_generated_at_apply(config: dict[str, Any]) -> None:
    parameter = _resource(config, "aws_ssm_parameter", "jwt_signing_key")
    assert parameter["type"] == "SecureString"
    assert parameter["name"] == "${var.jwt_key_param_name}"
    assert "value" not in parameter and "insecure_value" not in parameter
    assert parameter["value_wo"] == "${ephemeral.random_password.jwt_signing_key.result}"
    assert parameter["value_wo_version"] == "${var.jwt_key_version}"
    generator = config["ephemeral"]["random_password"]["jwt_signing_key"]
    assert generator["length"] >= 32
    # No managed random_password for a key: its result would sit in the state in plain
    # text. The one managed value is CloudFront's origin token for the API (api.tf): it
    # must be sent as a plain header, and only decides whose address per-IP limits count.
    assert set(config["resource"].get("random_password", {})) == {"api_origin_token"}
    versions = single(config["terraform"])
    assert versions["required_version"] == ">= 1.11"  # write-only arguments
    providers = single(versions["required_providers"])
    assert providers["aws"]["version"].startswith(">= 6.0")  # value_wo: aws >= 5.99
    assert providers["random"]["version"].startswith(">= 3.7")  # ephemeral random_password


# --- the runner instance ----------------------------------------------------------------


def test_runner_instance_is_locked_down(config: dict[str, Any]) -> None:
    instance = _resource(config, "aws_instance", "runner")
    assert instance["instance_type"] == "${var.runner_instance_type}"
    assert "data.aws_ssm_parameter.al2023_ami" in instance["ami"]
    ami = config["data"]["aws_ssm_parameter"]["al2023_ami"]
    assert ami["name"] == "${var.runner_ami_parameter}"
    metadata = single(instance["metadata_options"])
    assert metadata["http_tokens"] == "required"
    assert metadata["http_put_response_hop_limit"] == 1
    root = single(instance["root_block_device"])
    assert root["volume_type"] == "gp3"
    assert root["encrypted"] is True
    assert "templates/cloud-init.yaml.tftpl" in instance["user_data"]
    assert instance["iam_instance_profile"] == "${aws_iam_instance_profile.runner.name}"
    ignored = single(instance["lifecycle"])["ignore_changes"]
    assert set(ignored) >= {"${ami}", "${user_data}"} or set(ignored) >= {"ami", "user_data"}


def test_runner_has_no_inbound_rule_unless_ssh_cidr_is_set(config: dict[str, Any]) -> None:
    group = _resource(config, "aws_security_group", "runner")
    assert "ingress" not in group and "egress" not in group
    ingress = config["resource"]["aws_vpc_security_group_ingress_rule"]
    assert list(ingress) == ["runner_ssh"]
    assert ingress["runner_ssh"]["count"] == "${var.ssh_cidr == null ? 0 : 1}"
    assert ingress["runner_ssh"]["cidr_ipv4"] == "${var.ssh_cidr}"
    assert ingress["runner_ssh"]["from_port"] == ingress["runner_ssh"]["to_port"] == 22
    egress = config["resource"]["aws_vpc_security_group_egress_rule"]
    assert {(rule["from_port"], rule["to_port"]) for rule in egress.values()} == {(443, 443)}
    # The VPC's default group carries no rule at all.
    default_group = _resource(config, "aws_default_security_group")
    assert set(default_group) == {"vpc_id"}
    assert "aws_nat_gateway" not in config["resource"]


# --- IAM --------------------------------------------------------------------------------

# Actions that have no resource ARN in IAM, so "*" is the only possible resource.
UNRESTRICTABLE_ACTIONS = {
    "cloudwatch:PutMetricData",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
}


def _runner_statements(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    document = config["data"]["aws_iam_policy_document"]["runner"]
    assert "dynamic" not in document  # checkov cannot evaluate dynamic statements
    return {statement["sid"]: statement for statement in document["statement"]}


def test_runner_policy_is_least_privilege(config: dict[str, Any]) -> None:
    statements = _runner_statements(config)
    for sid, statement in statements.items():
        for action in statement["actions"]:
            assert "*" not in action, f"{sid}: wildcard action {action}"
        resources = statement["resources"]
        if isinstance(resources, list) and "*" in resources:
            assert set(statement["actions"]) <= UNRESTRICTABLE_ACTIONS, sid
    every_action = {a for s in statements.values() for a in s["actions"]}
    # The runner never reads the JWT signing key, users, or the whole table.
    assert not any(a.startswith(("ssm:GetParameter", "kms:")) for a in every_action)
    assert "dynamodb:Scan" not in every_action
    assert "s3:DeleteBucket" not in every_action and "iam:PassRole" not in every_action


def test_runner_reaches_only_job_partitions_and_its_bucket_prefixes(
    config: dict[str, Any],
) -> None:
    statements = _runner_statements(config)
    items = statements["JobItems"]
    condition = single(items["condition"])
    assert condition["variable"] == "dynamodb:LeadingKeys"
    assert condition["test"] == "ForAllValues:StringLike"
    partitions = config["locals"]["runner_table_partitions"]
    assert not any(p.startswith(("USER#", "EMAIL#", "REFRESH#", "FAMILY#")) for p in partitions)
    assert "PROJECT#*" in partitions and "SEMAPHORE#*" in partitions
    assert statements["ListOwnPrefixes"]["resources"] == ["${aws_s3_bucket.main.arn}"]
    list_condition = single(statements["ListOwnPrefixes"]["condition"])
    assert list_condition["variable"] == "s3:prefix"
    for sid in ("ReadObjects", "WriteObjects", "DeleteObjects"):
        resources = statements[sid]["resources"]
        assert resources.startswith("${[for prefix in local.runner_s3_")
        assert '"${aws_s3_bucket.main.arn}/${prefix}*"' in resources
    # Terraform's S3 backend lists "<workspace_key_prefix>/" at init: the runner puts
    # that prefix inside tfstate/, so the default "env:/" needs no grant.
    list_prefixes = config["locals"]["runner_s3_list_prefixes"]
    assert not any(p.startswith("env:") for p in list_prefixes)
    assert any(f"{WORKSPACE_KEY_PREFIX}/".startswith(p) for p in list_prefixes)
    writable = config["locals"]["runner_s3_write_prefixes"]
    assert "uploads/" not in writable  # user archives are read-only to the runner
    assert "releases/" in config["locals"]["runner_s3_read_prefixes"]  # s3:// releases
    assert "backups/runner/" in writable and "tfstate/" in writable


def test_runner_assumes_user_roles_only_with_an_external_id(config: dict[str, Any]) -> None:
    statements = _runner_statements(config)
    allow = statements["AssumeUserRolesWithExternalId"]
    assert allow["actions"] == ["sts:AssumeRole"]
    condition = single(allow["condition"])
    assert (condition["test"], condition["variable"], condition["values"]) == (
        "Null",
        "sts:ExternalId",
        ["false"],
    )
    deny = statements["NoRolesOfThisAccount"]
    assert deny["effect"] == "Deny" and deny["actions"] == ["sts:AssumeRole"]
    (resource,) = deny["resources"]
    # Every role of the account by default; only AutoStack's own when the operator lets
    # a same-account team deploy.
    assert resource == (
        "${var.allow_own_account_roles ? "
        '"arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-*" : '
        '"arn:${local.partition}:iam::${local.account_id}:role/*"}'
    )
    assert config["variable"]["allow_own_account_roles"]["default"] is False


# --- alarms -----------------------------------------------------------------------------


def test_alarms_cover_the_migration_triggers_and_notify_by_email(config: dict[str, Any]) -> None:
    alarms = config["resource"]["aws_cloudwatch_metric_alarm"]
    expected = {
        "runner_cpu": ("AWS/EC2", "CPUUtilization", "cpu_alarm_threshold_percent", 80),
        "runner_disk": ("CWAgent", "disk_used_percent", "disk_alarm_threshold_percent", 80),
        "api_latency_p95": ("AWS/ApiGateway", "Latency", "api_p95_latency_threshold_ms", 2000),
    }
    for name, (namespace, metric, variable, default) in expected.items():
        alarm = alarms[name]
        assert (alarm["namespace"], alarm["metric_name"]) == (namespace, metric)
        assert alarm["threshold"] == f"${{var.{variable}}}"
        assert config["variable"][variable]["default"] == default
        assert alarm["period"] * alarm["evaluation_periods"] == 300  # "for 5 minutes"
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarms["api_latency_p95"]["extended_statistic"] == "p95"
    stalled = alarms["jobs_stalled"]
    assert stalled["metric_name"] == "ApproximateAgeOfOldestMessage"
    assert stalled["dimensions"] == {"QueueName": "${aws_sqs_queue.jobs.name}"}
    assert stalled["threshold"] == "${var.jobs_stalled_alarm_minutes * 60}"
    assert config["variable"]["jobs_stalled_alarm_minutes"]["default"] >= 60
    dlq = alarms["dlq_not_empty"]
    assert (dlq["metric_name"], dlq["threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert dlq["dimensions"] == {"QueueName": "${aws_sqs_queue.jobs_dlq.name}"}
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == "${local.alarm_actions}"
    assert config["locals"]["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    subscription = config["resource"]["aws_sns_topic_subscription"]["alarms_email"]
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "${var.alarm_email}")


def test_disk_alarm_dimensions_match_what_the_agent_publishes(config: dict[str, Any]) -> None:
    agent = config["locals"]["cwagent_config"]
    metrics = agent["metrics"]
    assert metrics["namespace"] == "CWAgent"
    disk = metrics["metrics_collected"]["disk"]
    assert disk["measurement"] == ["used_percent"] and disk["drop_device"] is True
    assert disk["resources"] == ["${local.runner_disk_path}"]
    assert set(metrics["append_dimensions"]) == {"InstanceId"}
    dims = config["resource"]["aws_cloudwatch_metric_alarm"]["runner_disk"]["dimensions"]
    # drop_device leaves path and fstype; append_dimensions adds InstanceId.
    assert set(dims) == {"InstanceId", "path", "fstype"}
    assert dims["path"] == "${local.runner_disk_path}"


# --- the API's log groups -----------------------------------------------------------------


def _chalice_function_names() -> set[str]:
    """The Lambda functions `chalice deploy --stage prod` creates: the API handler
    (<app>-<stage>) and one per @app.schedule / on_* / lambda_function handler."""
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    prefix = f"{config['app_name']}-prod"
    names = {prefix}
    tree = ast.parse((REPO_ROOT / "app.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and (
                    target.attr in ("schedule", "lambda_function") or target.attr.startswith("on_")
                ):
                    names.add(f"{prefix}-{node.name}")
    return names


def test_every_api_lambda_gets_a_log_group_with_retention(config: dict[str, Any]) -> None:
    group = _resource(config, "aws_cloudwatch_log_group", "api")
    assert group["for_each"] == "${toset(var.api_function_names)}"
    assert group["name"] == "/aws/lambda/${each.key}"
    assert group["retention_in_days"] == "${var.api_log_retention_days}"
    assert 1 <= config["variable"]["api_log_retention_days"]["default"] <= 400
    assert set(config["variable"]["api_function_names"]["default"]) == _chalice_function_names()
